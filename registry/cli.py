"""Command-line administration, calling the same services as the web pages.

    flask --app registry users create --email ... --role officer
    flask --app registry orgs approve "ACME Sportswear"
    flask --app registry demo seed
    flask --app registry audit verify
"""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from registry.extensions import db
from registry.models import Organisation, OrganisationStatus, Role, User
from registry.services import audit, organisations, users
from registry.services.errors import DomainError


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _organisation(name: str) -> Organisation:
    organisation = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if organisation is None:
        _fail(f"no organisation named '{name}'")
    return organisation


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"no account with e-mail '{email}'")
    return user


users_cli = AppGroup("users", help="Manage user accounts.")
orgs_cli = AppGroup("orgs", help="Approve and suspend organisations.")
demo_cli = AppGroup("demo", help="Demo data.")
audit_cli = AppGroup("audit", help="Check the audit log.")
case_cli = AppGroup("case", help="Detention cases.")
evidence_cli = AppGroup("evidence", help="Export and verify evidence packages.")
blobs_cli = AppGroup("blobs", help="Remove blobs no row names; check that rows name intact blobs.")
api_cli = AppGroup("api", help="The JSON API's upkeep.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--organisation", default=None, help="Organisation name (rights holders only).")
@click.option("--password", default=None, help="Asked for when not given.")
@click.option("--office", default="", help="A customs officer's office.")
def create_user(email: str, name: str, role: str, organisation: str | None, password: str | None,
                office: str) -> None:
    """Create an account."""
    if password is None:
        password = getpass.getpass("Password: ")
    try:
        user = users.create_user(db.session, None, email=email, name=name or email, password=password,
                                 role=Role(role), organisation=_organisation(organisation) if organisation else None,
                                 office=office)
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Created {user.role.value} account {user.email}.")


@users_cli.command("disable")
@click.argument("email")
def disable_user(email: str) -> None:
    """Disable an account and end all of its sessions."""
    users.set_user_active(db.session, None, _user(email), False)
    db.session.commit()
    click.echo(f"Disabled {email}; its sessions are ended.")


@users_cli.command("enable")
@click.argument("email")
def enable_user(email: str) -> None:
    users.set_user_active(db.session, None, _user(email), True)
    db.session.commit()
    click.echo(f"Enabled {email}.")


@users_cli.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.option("--organisation", default=None)
def set_role(email: str, role: str, organisation: str | None) -> None:
    """Change an account's role (its sessions end)."""
    try:
        users.set_user_role(db.session, None, _user(email), Role(role),
                            _organisation(organisation) if organisation else None)
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    click.echo(f"{email} is now {role}.")


@users_cli.command("list")
def list_users() -> None:
    for user in db.session.scalars(select(User).order_by(User.role, User.email)):
        org = user.organisation.name if user.organisation else "-"
        click.echo(f"{user.email:40} {user.role.value:8} {'active' if user.active else 'disabled':8} {org}")


@orgs_cli.command("list")
def list_orgs() -> None:
    for organisation in db.session.scalars(select(Organisation).order_by(Organisation.name)):
        click.echo(f"{organisation.name:40} {organisation.country} {organisation.status.value}")


def _set_status(name: str, status: OrganisationStatus) -> None:
    admin = db.session.scalar(select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id))
    organisation = _organisation(name)
    if organisation.status == status:
        click.echo(f"{name} is already {status.value}.")
        return
    if admin is None:
        _fail("create an administrator account first (users create --role admin)")
    organisations.set_organisation_status(db.session, admin, organisation, status)
    db.session.commit()
    click.echo(f"{name} is {status.value}.")


@orgs_cli.command("approve")
@click.argument("name")
def approve(name: str) -> None:
    """Approve an organisation (recorded as done by the first administrator)."""
    _set_status(name, OrganisationStatus.APPROVED)


@orgs_cli.command("suspend")
@click.argument("name")
def suspend(name: str) -> None:
    _set_status(name, OrganisationStatus.SUSPENDED)


@demo_cli.command("seed")
@click.option("--password", default="demo-password-2026", show_default=True)
def seed(password: str) -> None:
    """Fill an empty registry with demo holders, images and one account per role."""
    from flask import current_app

    from registry.demo import seed_demo

    accounts = seed_demo(db.session, current_app.extensions["blobs"], password=password)
    db.session.commit()
    if not accounts:
        click.echo("The registry already has data; demo data was not added.")
        return
    click.echo("Demo accounts (all with the password " + password + "):")
    for role, email in accounts:
        click.echo(f"  {role:16} {email}")


@click.command("screen")
@with_appcontext
@click.option("--brand", "declared_brand", default=None, help="Declared brand.")
@click.option("--description", default=None)
@click.option("--supplier", default=None, help="Declared manufacturer or exporter.")
@click.option("--origin", "origin_country", default=None, help="Country of origin (code or name).")
@click.option("--price", "unit_price", type=float, default=None, help="Declared unit value.")
@click.option("--currency", default=None)
@click.option("--hs", "hs_code", default=None)
@click.option("--gtin", "gtins", multiple=True)
@click.option("--photo", "photos", multiple=True, type=click.Path(exists=True, dir_okay=False))
def screen(photos: tuple[str, ...], gtins: tuple[str, ...], **fields) -> None:
    """Screen one declaration against the current registry and explain the matches."""
    from flask import current_app

    from matchers import Engine, Query
    from registry.services.snapshot import registry_references

    references, _ = registry_references(db.session, current_app.extensions["blobs"])
    engine = Engine(references)
    result = engine.screen(Query(photos=photos, gtins=gtins, **fields))
    names = {r.brand_id: r.name for r in references}
    if not result:
        click.echo("No registered brand is close: release, unless other risk factors apply.")
    for match in result:
        click.echo(f"{names[match.brand_id]}: {match.recommendation.upper()} (score {match.score:.2f})")
        for signal in match.signals:
            if signal.available:
                click.echo(f"  - {signal.name} {signal.score:.2f}: {signal.reason}")
    for note in result.notes:
        click.echo(f"note: {note}")


def _officer(email: str | None) -> User:
    query = select(User).where(User.role == Role.OFFICER, User.active.is_(True))
    if email:
        query = query.where(User.email == email.strip().lower())
    officer = db.session.scalar(query.order_by(User.id))
    if officer is None:
        _fail("no active customs officer account" + (f" '{email}'" if email else ""))
    return officer


@case_cli.command("list")
def case_list() -> None:
    """Open cases by next deadline, overdue first."""
    from registry.services import cases
    from registry.services.profiles import load_profiles

    for row in cases.dashboard(db.session, _officer(None), load_profiles()):
        d = row.deadline
        due = f"{d.due.isoformat()} {d.label}" if d else "-"
        flag = "OVERDUE " if d and d.overdue(row.today) else ""
        click.echo(f"#{row.case.id:<5} {row.case.jurisdiction:3} {cases.STATES[row.case.state]:40} {flag}{due}")


def _committed(change):
    """Make a change to a case and commit it, or stop with the reason it was refused."""
    try:
        done = change()
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    return done


@case_cli.command("advance")
@click.argument("case_id", type=int)
@click.argument("action")
@click.option("--officer", default=None, help="E-mail of the officer acting (default: the first officer).")
@click.option("--note", default="")
def case_advance(case_id: int, action: str, officer: str | None, note: str) -> None:
    """Move a case on, e.g. `case advance 12 notify`."""
    from registry.services import cases

    case = _committed(lambda: cases.advance(db.session, _officer(officer), case_id, action, note=note))
    click.echo(f"Case #{case.id} is now: {cases.STATES[case.state]}.")


@case_cli.command("declarant")
@click.argument("case_id", type=int)
@click.argument("answer", type=click.Choice(["consent", "objection"]))
@click.option("--officer", default=None, help="E-mail of the officer acting (default: the first officer).")
@click.option("--note", default="", help="How the answer was received.")
def case_declarant(case_id: int, answer: str, officer: str | None, note: str) -> None:
    """Record the declarant's consent to destruction, or objection, e.g. `case declarant 12 consent`."""
    from registry.services import cases

    case = _committed(lambda: cases.record_declarant_answer(db.session, _officer(officer), case_id, answer,
                                                            note=note))
    said = "consents to destruction" if answer == "consent" else "objects to destruction"
    click.echo(f"Case #{case.id}: recorded that the declarant {said}.")


@click.command("deadlines")
@with_appcontext
def deadlines() -> None:
    """The periodic job: apply deemed consent where its deadline passed, then list what is due."""
    from registry.services import cases
    from registry.services.profiles import load_profiles

    from flask import current_app

    from registry.mail import mailer_from_config
    from registry.services.notifications import deliver_pending

    applied = cases.apply_all_deemed_consents(db.session, load_profiles(), commit=db.session.commit)
    db.session.commit()
    click.echo(f"Deemed consent applied to {applied} case(s).")
    sent = deliver_pending(db.session, mailer_from_config(current_app.config),
                           sender=current_app.config["MAIL_SENDER"])
    click.echo(f"Notices delivered: {sent}.")
    for row in cases.dashboard(db.session, _officer(None), load_profiles()):
        if row.deadline and row.deadline.overdue(row.today):
            click.echo(f"OVERDUE #{row.case.id}: {row.deadline.label} (due {row.deadline.due.isoformat()})")


@click.command("check")
@click.option("--officer", default=None, help="E-mail of the officer recording the check (default: the first).")
@click.option("--brand", "declared_brand", default="")
@click.option("--description", default="")
@click.option("--manufacturer", default="")
@click.option("--consignor", default="")
@click.option("--origin", "origin_country", default="")
@click.option("--quantity", default="")
@click.option("--value", "declared_value", default="")
@click.option("--currency", default="")
@click.option("--hs", "hs_code", default="")
@click.option("--photo", "photos", multiple=True, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def check(officer: str | None, photos: tuple[str, ...], **declaration) -> None:
    """Record a check of suspect goods, as the "new check" page does, and print its result."""
    from pathlib import Path

    from flask import current_app

    from registry.services.checks import screen_declaration
    from registry.services.products import UploadPolicy

    config = current_app.config
    policy = UploadPolicy(max_bytes=config["MAX_IMAGE_BYTES"], max_pixels=config["MAX_IMAGE_PIXELS"],
                          thumbnail_size=config["THUMBNAIL_SIZE"])
    try:
        recorded = screen_declaration(db.session, _officer(officer), current_app.extensions["blobs"],
                                      current_app.extensions["engine"], policy, declaration,
                                      [(Path(p).read_bytes(), Path(p).name) for p in photos])
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Check #{recorded.id} recorded.")
    for suggestion in recorded.suggestions:
        click.echo(f"  {suggestion.rank}. {suggestion.brand_name}: {suggestion.recommendation} ({suggestion.score:.2f})")


@audit_cli.command("verify")
def verify() -> None:
    """Walk the audit hash chain and its signed checkpoints; report the first broken link."""
    signer = current_app.extensions["signer"]
    report = audit.verify_chain(db.session, signer)
    if report.ok:
        head = report.events
        covered = report.last_checkpoint_seq or 0
        click.echo(f"Audit chain intact: {head} events; signed checkpoints up to event {covered} "
                   f"(key {signer.fingerprint}).")
        if head > covered:
            click.echo(f"{head - covered} event(s) after the last checkpoint are linked but not yet signed; "
                       "`flask --app registry audit checkpoint` signs the head now.")
    else:
        where = f" at event {report.first_broken_seq}" if report.first_broken_seq else ""
        _fail(f"audit chain broken{where}: {report.problem}")


@audit_cli.command("checkpoint")
def checkpoint() -> None:
    """Sign the chain's head now (one is also signed every 100 events and on every export)."""
    signed = audit.checkpoint(db.session, current_app.extensions["signer"])
    db.session.commit()
    if signed is None:
        click.echo("The audit log is empty: nothing to sign.")
    else:
        click.echo(f"Checkpoint signed at event {signed.seq}.")


@evidence_cli.command("export")
@click.argument("case_id", type=int)
@click.option("--actor", "actor_email", required=True, help="E-mail of the legal or customs user exporting.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Where to write the ZIP (default: CASE-<id>-evidence.zip here).")
def evidence_export(case_id: int, actor_email: str, out_path: str | None) -> None:
    """Export a case's signed evidence package."""
    from registry.services import evidence
    from registry.services.profiles import load_profiles

    actor = _user(actor_email)
    try:
        made = evidence.export_evidence(db.session, actor, current_app.extensions["blobs"],
                                        current_app.extensions["signer"], case_id,
                                        profiles=load_profiles(current_app.config.get("JURISDICTION_PROFILES_FILE")))
    except DomainError as exc:
        db.session.rollback()
        _fail(str(exc) or "the case was not found")
    db.session.commit()
    target = out_path or f"CASE-{case_id:06d}-evidence.zip"
    with open(target, "wb") as handle:
        handle.write(current_app.extensions["blobs"].get(made.package_sha256))
    click.echo(f"Wrote {target}: {made.file_count} files, {made.byte_size} bytes"
               f"{' (interim: the case is open)' if made.interim else ''}; manifest SHA-256 {made.manifest_sha256}.")


@evidence_cli.command("verify")
@click.argument("package", type=click.Path(exists=True, dir_okay=True))
def evidence_verify(package: str) -> None:
    """Check a package (ZIP or unpacked folder) against this installation's key."""
    from pathlib import Path

    from registry import evidence_verifier

    try:
        report = evidence_verifier.verify_source(Path(package),
                                                 trusted_fingerprint=current_app.extensions["signer"].fingerprint)
    except evidence_verifier.UnreadablePackage as exc:
        click.echo(f"Cannot read the package: {exc}")
        sys.exit(2)
    click.echo("\n".join(report.lines()))
    sys.exit(0 if report.ok else 1)


@evidence_cli.command("key")
def evidence_key() -> None:
    """Print the public key that signs checkpoints and packages, and its fingerprint."""
    signer = current_app.extensions["signer"]
    click.echo(signer.fingerprint)
    click.echo(signer.public_pem.decode("ascii"), nl=False)


@blobs_cli.command("clean")
@click.option("--grace-minutes", type=click.IntRange(min=0), default=60, show_default=True,
              help="Keep files younger than this: an upload in flight has not committed its row yet.")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--display-copies-unused-days", type=click.IntRange(min=0), default=30, show_default=True,
              help="Also remove full-size display copies nobody looked at for this long (made again on "
                   "the next look), and those of images no longer stored.")
def blobs_clean(grace_minutes: int, dry_run: bool, display_copies_unused_days: int) -> None:
    """Remove blobs that no row names and leftover temporary files (a crash mid-upload leaves them)."""
    from datetime import timedelta

    from registry.services import blob_cleanup

    report = blob_cleanup.clean_orphans(db.session, current_app.extensions["blobs"],
                                        grace=timedelta(minutes=grace_minutes), dry_run=dry_run)
    verb = "Would remove" if dry_run else "Removed"
    for digest in report.removed:
        click.echo(f"{verb.lower()} orphan blob {digest}")
    for path in report.temporary_removed:
        click.echo(f"{verb.lower()} temporary file {path}")
    click.echo(f"{verb} {len(report.removed)} orphan blob(s) ({report.removed_bytes} bytes) and "
               f"{len(report.temporary_removed)} temporary file(s); {report.scanned} blob(s) in the store, "
               f"{report.referenced} named by rows, {report.kept_young} unnamed but younger than "
               f"{grace_minutes} minute(s) kept.")
    if report.unknown:
        click.echo(f"{len(report.unknown)} file(s) the store does not write were left alone, e.g. {report.unknown[0]}")
    if not dry_run:
        store = current_app.extensions["blobs"]
        pruned = current_app.extensions["display_copies"].prune(
            store.exists, unused_for_seconds=display_copies_unused_days * 86400)
        click.echo(f"Removed {len(pruned)} display cop{'y' if len(pruned) == 1 else 'ies'} (made again when "
                   "next looked at).")


@blobs_cli.command("check")
def blobs_check() -> None:
    """Check that every row naming a blob finds it, with bytes that still match its SHA-256."""
    from registry.services import blob_cleanup

    report = blob_cleanup.check_references(db.session, current_app.extensions["blobs"])
    for problem in report.problems:
        click.echo(problem.describe())
    if not report.ok:
        _fail(f"{len(report.problems)} of {report.rows} reference(s) point at a missing or damaged blob")
    click.echo(f"All {report.rows} reference(s) point at intact blobs ({report.blobs} blob(s), {report.bytes} bytes).")


@api_cli.command("prune-keys")
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True,
              help="Keep the replies of Idempotency-Keys used within this many days.")
def api_prune_keys(days: int) -> None:
    """Forget old Idempotency-Key replies (run it daily, like the periodic job)."""
    from datetime import timedelta

    from registry.services import api_tokens

    removed = api_tokens.prune_idempotent_replies(db.session, older_than=timedelta(days=days))
    db.session.commit()
    click.echo(f"Forgot {removed} Idempotency-Key repl{'y' if removed == 1 else 'ies'} older than {days} day(s).")


def register(app: Flask) -> None:
    for group in (users_cli, orgs_cli, demo_cli, audit_cli, screen, check, case_cli, deadlines, evidence_cli,
                  blobs_cli, api_cli):
        app.cli.add_command(group)
