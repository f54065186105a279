"""Admin commands run through the same services as the pages."""

from __future__ import annotations

from sqlalchemy import select

from registry.models import AuditEvent, Organisation, OrganisationStatus, Role, User
from registry.services import organisations


def test_user_and_organisation_commands(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "Root@Customs.example", "--role", "admin",
                                 "--password", "long-enough-password"])
    assert result.exit_code == 0, result.output
    assert "Created admin account root@customs.example" in result.output
    result = runner.invoke(args=["users", "create", "--email", "x@customs.example", "--role", "officer",
                                 "--password", "short"])
    assert result.exit_code == 1 and "at least 12 characters" in result.output
    organisations.register_organisation(session, {"name": "Delta AG", "country": "CH"}, user_name="D",
                                        email="d@delta.example", password="long-enough-password")
    session.commit()
    result = runner.invoke(args=["orgs", "approve", "Delta AG"])
    assert result.exit_code == 0 and "approved" in result.output
    session.expire_all()
    assert session.scalar(select(Organisation.status).where(Organisation.name == "Delta AG")) == OrganisationStatus.APPROVED
    result = runner.invoke(args=["orgs", "approve", "No Such Org"])
    assert result.exit_code == 1 and "no organisation named" in result.output
    result = runner.invoke(args=["users", "disable", "d@delta.example"])
    assert result.exit_code == 0
    session.expire_all()
    assert not session.scalar(select(User.active).where(User.email == "d@delta.example"))
    result = runner.invoke(args=["users", "role", "x@nowhere.example", "legal"])
    assert result.exit_code == 1


def test_demo_seed_and_audit_verify(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "seed", "--password", "demo-password-2026"])
    assert result.exit_code == 0, result.output
    assert "officer@demo.example" in result.output and "holder@velorun.demo.example" in result.output
    holders = session.scalars(select(Organisation)).all()
    assert len(holders) >= 5 and all(o.status == OrganisationStatus.APPROVED for o in holders)
    roles = set(session.scalars(select(User.role)))
    assert roles == set(Role)
    # Seeding again adds nothing.
    assert "already has data" in runner.invoke(args=["demo", "seed"]).output
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "Audit chain intact" in result.output
    event = session.scalars(select(AuditEvent).where(AuditEvent.seq == 10)).one()
    event.action = "tampered"
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "broken at event 10" in result.output
