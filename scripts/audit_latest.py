"""A partial supply-chain audit for machines where pip-audit cannot reach its advisories.

    .venv/bin/python scripts/audit_latest.py [--partial-ok]

``scripts/audit-dependencies`` (pip-audit) is the audit. It needs PyPI's per-release pages or
api.osv.dev; some networks let through only PyPI's project pages
(``https://pypi.org/pypi/<project>/json``). Those list the advisories of the project's *latest*
release, so here each package installed in this interpreter's environment is checked when it is
at its latest release, and reported as not checked otherwise (its version is held back by
pyproject.toml's ranges or by another package's). Withdrawn advisories are ignored; accepted
ones are read from audit-exceptions.txt, as pip-audit's are.

Exit status: 1 if an advisory (not accepted) affects an installed package; otherwise 2 if some
package could not be checked (0 with ``--partial-ok``); 0 when every package was checked clean.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.metadata
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

EXCEPTIONS = Path(__file__).resolve().parent.parent / "audit-exceptions.txt"
#: The project itself, installed editable, is not on PyPI.
OWN = {"counterfeit-registry"}


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    #: (package, installed version, why it was not checked)
    unchecked: list[tuple[str, str, str]] = field(default_factory=list)
    #: (package, installed version, advisory id, aliases, fixed in)
    findings: list[tuple[str, str, str, list[str], list[str]]] = field(default_factory=list)


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def installed() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
            if canonical(d.metadata["Name"]) not in OWN}


def accepted(lines: Iterable[str]) -> set[str]:
    """Advisory ids of audit-exceptions.txt (first word of each line that is not a comment)."""
    return {line.split()[0] for line in lines if line.strip() and not line.lstrip().startswith("#")}


def fetch_project(name: str) -> dict:
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=30) as reply:
        return json.load(reply)


def audit(packages: dict[str, str], fetch: Callable[[str], dict], exceptions: set[str]) -> Report:
    def look(name: str) -> tuple[str, dict | None, str]:
        try:
            return name, fetch(name), ""
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return name, None, f"project page unreachable ({exc})"

    report = Report()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for name, project, error in pool.map(look, sorted(packages)):
            version = packages[name]
            if project is None:
                report.unchecked.append((name, version, error))
                continue
            latest = project["info"]["version"]
            if latest != version:
                report.unchecked.append((name, version, f"latest is {latest}; its advisories only are listed"))
                continue
            report.checked.append(name)
            for vuln in project.get("vulnerabilities") or []:
                ids = {vuln["id"], *vuln.get("aliases", [])}
                if vuln.get("withdrawn") or ids & exceptions:
                    continue
                report.findings.append((name, version, vuln["id"], vuln.get("aliases", []), vuln.get("fixed_in", [])))
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partial-ok", action="store_true", help="exit 0 when packages were left unchecked")
    args = ap.parse_args(argv)
    packages = installed()
    report = audit(packages, fetch_project, accepted(EXCEPTIONS.read_text().splitlines()))
    for name, version, vid, aliases, fixed in report.findings:
        print(f"ADVISORY {name} {version}: {vid} ({', '.join(aliases) or 'no aliases'}); fixed in {', '.join(fixed) or '?'}")
    for name, version, why in report.unchecked:
        print(f"not checked: {name} {version}: {why}")
    print(f"{len(packages)} packages: {len(report.checked)} checked at their latest release, "
          f"{len(report.findings)} advisories found; {len(report.unchecked)} not checked")
    if report.findings:
        return 1
    return 2 if report.unchecked and not args.partial_ok else 0


if __name__ == "__main__":
    sys.exit(main())
