"""Orphan blobs (written, but their row never committed) are removed once past a grace period;
rows pointing at a missing or damaged blob are reported."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from registry.models import CheckPhoto, ReferenceImage
from registry.services import blob_cleanup
from registry.services.checks import screen_declaration
from registry.services.products import UploadPolicy
from tests.registry.conftest import png_bytes

TWO_HOURS = 2 * 3600


def age(path: Path, seconds: int) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def stored(app, session, blobs, world):
    """The world's reference images and a check with a photo, every file in the store two hours old."""
    check = screen_declaration(session, world.officer, blobs, app.extensions["engine"], UploadPolicy(),
                               {"declared_brand": "ALPHA", "description": "running shoes"},
                               [(png_bytes(size=(90, 60), colour=(10, 120, 40)), "crate.png")])
    session.commit()
    for path in all_files(blobs.root):
        age(path, TWO_HOURS)
    return check


def referenced(session) -> set[str]:
    digests = set()
    for model in (ReferenceImage, CheckPhoto):
        for sha, thumb in session.execute(select(model.sha256, model.thumbnail_sha256)):
            digests |= {sha, thumb}
    return digests


def test_every_blob_column_is_found_and_hashes_that_are_not_blobs_are_not():
    names = {f"{c.table.name}.{c.name}" for c in blob_cleanup.blob_columns()}
    assert {"reference_images.sha256", "reference_images.thumbnail_sha256", "check_photos.sha256",
            "check_photos.thumbnail_sha256", "bulk_jobs.manifest_sha256", "bulk_chunks.lines_sha256",
            "evidence_exports.package_sha256"} <= names
    assert "evidence_exports.manifest_sha256" not in names
    assert not {n for n in names if n.endswith(("token_hash", ".hash", "request_hash"))}


def test_clean_removes_old_orphans_and_temporary_files_only(app, session, blobs, stored):
    named = referenced(session)
    assert len(named) == 6  # two tenants' image + thumbnail, the check's photo + thumbnail
    old_orphan = blobs.put(os.urandom(3000))
    age(blobs.path_for(old_orphan), TWO_HOURS)
    young_orphan = blobs.put(os.urandom(2000))  # its row may be committing right now
    old_temporary = [blobs.root / ".tmp-abandoned", blobs.path_for(old_orphan).parent / ".tmp-half-written"]
    young_temporary = blobs.root / ".tmp-in-flight"
    for path in [*old_temporary, young_temporary]:
        path.write_bytes(os.urandom(500))
    for path in old_temporary:
        age(path, TWO_HOURS)
    before = sorted(all_files(blobs.root))
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["blobs", "clean", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would remove orphan blob {old_orphan}" in dry.output
    assert "Would remove 1 orphan blob(s) (3000 bytes) and 2 temporary file(s)" in dry.output
    assert sorted(all_files(blobs.root)) == before

    result = runner.invoke(args=["blobs", "clean"])
    assert result.exit_code == 0, result.output
    assert "Removed 1 orphan blob(s) (3000 bytes) and 2 temporary file(s)" in result.output
    assert "1 unnamed but younger than 60 minute(s) kept" in result.output
    assert not blobs.exists(old_orphan)
    assert not any(p.exists() for p in old_temporary)
    assert blobs.exists(young_orphan) and young_temporary.exists()
    assert all(blobs.verify(digest) for digest in named)

    # With no grace at all (nothing in flight), the young leftovers go too; named blobs never.
    result = runner.invoke(args=["blobs", "clean", "--grace-minutes", "0"])
    assert result.exit_code == 0, result.output
    assert not blobs.exists(young_orphan) and not young_temporary.exists()
    assert all(blobs.verify(digest) for digest in named)
    assert {p.name for p in all_files(blobs.root)} == named
    check = runner.invoke(args=["blobs", "check"])
    assert check.exit_code == 0 and "All 6 reference(s) point at intact blobs" in check.output


def test_a_blob_named_by_a_row_committed_during_the_walk_is_kept(session, blobs, world, stored, monkeypatch):
    # An old blob becomes named between the walk of the store and the reading of the rows: the
    # rows are read after the walk, so it is seen as named.
    digest = blobs.put(png_bytes(size=(50, 50), colour=(1, 2, 3)))
    age(blobs.path_for(digest), TWO_HOURS)
    original = blob_cleanup.referenced_digests

    def rows_committed_meanwhile(session, columns=None):
        return original(session, columns) | {digest}

    monkeypatch.setattr(blob_cleanup, "referenced_digests", rows_committed_meanwhile)
    report = blob_cleanup.clean_orphans(session, blobs)
    assert report.removed == [] and blobs.exists(digest)


def test_an_old_orphan_stored_again_is_young_again_and_kept(session, blobs, world, stored):
    # A photo uploaded once, its row never committed, is uploaded again: the new row will name
    # the old file, so the cleanup must not take it for an old orphan.
    data = png_bytes(size=(40, 40), colour=(9, 8, 7))
    digest = blobs.put(data)
    age(blobs.path_for(digest), TWO_HOURS)
    assert blobs.put(data) == digest
    report = blob_cleanup.clean_orphans(session, blobs)
    assert digest not in report.removed and blobs.verify(digest)
    assert report.kept_young >= 1


@pytest.mark.parametrize("moment", ["rename", "unlink"])
def test_an_orphan_stored_again_while_it_is_being_removed_is_kept(session, blobs, world, stored, monkeypatch, moment):
    """A writer names an old orphan again at the last moments of its removal (just before it
    is moved aside, or just before it is removed): the blob is there afterwards, intact, so
    the writer's row never names a missing file."""
    data = png_bytes(size=(30, 30), colour=(6, 5, 4))
    digest = blobs.put(data)
    age(blobs.path_for(digest), TWO_HOURS)
    real = getattr(os, moment)
    stored_again = []

    def writer_comes_first(path, *args, **kwargs):
        if digest in os.fspath(path) and not stored_again:
            stored_again.append(blobs.put(data))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, moment, writer_comes_first)
    blob_cleanup.clean_orphans(session, blobs)
    monkeypatch.setattr(os, moment, real)
    assert stored_again == [digest]
    assert blobs.verify(digest), "a blob stored again during its removal was lost"
    assert not [p for p in all_files(blobs.root) if "removing" in p.name]


def test_check_reports_rows_pointing_at_missing_or_damaged_blobs(app, session, blobs, world, stored):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["blobs", "check"]).exit_code == 0
    image = world.a.image
    blobs.path_for(image.sha256).unlink()
    photo = stored.photos[0]
    damaged = blobs.path_for(photo.thumbnail_sha256)
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")

    report = blob_cleanup.check_references(session, blobs)
    assert {(p.table, p.column, p.row_id, p.sha256, p.problem) for p in report.problems} == {
        ("reference_images", "sha256", image.id, image.sha256, "missing"),
        ("check_photos", "thumbnail_sha256", photo.id, photo.thumbnail_sha256, "mismatch"),
    }
    result = runner.invoke(args=["blobs", "check"])
    assert result.exit_code == 1
    assert f"reference_images.sha256 of row {image.id}: blob {image.sha256} is missing" in result.output
    assert f"check_photos.thumbnail_sha256 of row {photo.id}: blob {photo.thumbnail_sha256} no longer matches" \
        in result.output
    assert "2 of 6 reference(s) point at a missing or damaged blob" in result.output
    # Cleaning never "repairs" a broken reference by removing more.
    runner.invoke(args=["blobs", "clean", "--grace-minutes", "0"])
    assert blobs.exists(photo.sha256) and blobs.exists(world.b.image.sha256)
