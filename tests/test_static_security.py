"""A static security scan of the project's own code (bandit), as part of the test suite.

Findings of high severity and high confidence fail the build. An exception is made only in
the code, with ``# nosec BXXX`` and a comment saying why and since when; this test lists every
such exception so that none goes unnoticed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ["registry", "matchers", "bench", "scripts"]


def _bandit(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "bandit", "-q", "-r", *args, "-f", "json",
                           *[str(ROOT / p) for p in SCANNED if (ROOT / p).exists()]],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip(), f"bandit printed nothing: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def test_no_high_severity_high_confidence_findings():
    report = _bandit("--severity-level", "high", "--confidence-level", "high")
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert not findings, "\n".join(findings)
    assert not report["errors"], report["errors"]
    assert report["metrics"]["_totals"]["loc"] > 5_000  # the code was really scanned


def test_the_scan_would_catch_a_real_finding(tmp_path):
    # The same command on a file with shell injection: proves the gate can fail.
    bad = tmp_path / "bad.py"
    bad.write_text("import subprocess\n\ndef run(user_input):\n"
                   "    subprocess.call('ls ' + user_input, shell=True)\n")
    done = subprocess.run([sys.executable, "-m", "bandit", "-q", "-f", "json", "--severity-level", "high",
                           "--confidence-level", "high", str(bad)], capture_output=True, text=True)
    assert [r["test_id"] for r in json.loads(done.stdout)["results"]] == ["B602"]


def test_every_nosec_exception_says_why():
    exceptions = []
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if "# nosec" in line:
                    exceptions.append((path, number, line))
    undocumented = [f"{p}:{n}" for p, n, line in exceptions if len(line.split("# nosec", 1)[1].strip()) < 20]
    assert not undocumented, f"nosec without a reason and a date: {undocumented}"
