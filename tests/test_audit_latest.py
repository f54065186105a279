"""scripts/audit_latest.py: the partial audit from PyPI's project pages (no network here: the
pages are made by the test)."""

from __future__ import annotations

import importlib.util
import sys
import urllib.error
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "audit_latest", Path(__file__).resolve().parent.parent / "scripts" / "audit_latest.py")
audit_latest = importlib.util.module_from_spec(_spec)
sys.modules["audit_latest"] = audit_latest  # dataclasses look their module up there
_spec.loader.exec_module(audit_latest)


def page(version: str, *vulns: dict) -> dict:
    return {"info": {"version": version}, "vulnerabilities": list(vulns)}


def advisory(vid: str, *aliases: str, withdrawn: str | None = None, fixed: tuple[str, ...] = ()) -> dict:
    return {"id": vid, "aliases": list(aliases), "withdrawn": withdrawn, "fixed_in": list(fixed)}


@pytest.fixture
def pages() -> dict[str, dict]:
    return {
        "clean": page("2.0"),
        "vulnerable": page("1.5", advisory("GHSA-aaaa", "CVE-2026-1", fixed=("1.6",))),
        "held-back": page("3.0", advisory("PYSEC-9")),
        "withdrawn": page("1.0", advisory("GHSA-bbbb", withdrawn="2026-01-01T00:00:00")),
        "accepted": page("4.0", advisory("GHSA-cccc", "CVE-2026-2")),
    }


def fetch_from(pages):
    def fetch(name: str) -> dict:
        if name not in pages:
            raise urllib.error.URLError("Name or service not known")
        return pages[name]
    return fetch


def test_only_packages_at_their_latest_release_are_checked_and_their_advisories_reported(pages):
    installed = {"clean": "2.0", "vulnerable": "1.5", "held-back": "2.9", "withdrawn": "1.0", "offline": "1.0"}
    report = audit_latest.audit(installed, fetch_from(pages), exceptions=set())

    assert sorted(report.checked) == ["clean", "vulnerable", "withdrawn"]
    # The latest release's advisories say nothing of an older one: not checked, not clean.
    assert [(n, v) for n, v, _ in report.unchecked] == [("held-back", "2.9"), ("offline", "1.0")]
    assert "latest is 3.0" in report.unchecked[0][2]
    assert "unreachable" in report.unchecked[1][2]
    # A withdrawn advisory is not a finding.
    assert report.findings == [("vulnerable", "1.5", "GHSA-aaaa", ["CVE-2026-1"], ["1.6"])]


def test_an_accepted_advisory_matches_by_id_or_alias(pages):
    installed = {"accepted": "4.0", "vulnerable": "1.5"}
    report = audit_latest.audit(installed, fetch_from(pages), exceptions={"CVE-2026-2", "GHSA-aaaa"})
    assert report.findings == [] and sorted(report.checked) == ["accepted", "vulnerable"]


def test_exceptions_file_lines_give_their_first_word():
    lines = ["# comment", "", "GHSA-x  2026-12-03  not reachable: the parser is unused", "  # indented comment"]
    assert audit_latest.accepted(lines) == {"GHSA-x"}


def test_exit_status_says_findings_then_gaps(monkeypatch, pages, capsys):
    monkeypatch.setattr(audit_latest, "fetch_project", fetch_from(pages))
    monkeypatch.setattr(audit_latest, "installed", lambda: {"clean": "2.0", "held-back": "2.9"})
    assert audit_latest.main([]) == 2
    assert audit_latest.main(["--partial-ok"]) == 0
    monkeypatch.setattr(audit_latest, "installed", lambda: {"clean": "2.0", "vulnerable": "1.5"})
    assert audit_latest.main(["--partial-ok"]) == 1
    assert "ADVISORY vulnerable 1.5: GHSA-aaaa" in capsys.readouterr().out
