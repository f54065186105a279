"""The matching engine is a pure library: no web framework, database or registry imports."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import matchers

FORBIDDEN = ("flask", "sqlalchemy", "registry", "flask_sqlalchemy", "werkzeug", "alembic")


def test_importing_every_matchers_module_pulls_in_no_app_code() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(matchers.__path__, "matchers."))
    assert "matchers.engine" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "", f"matchers imports {out.stdout.strip()}"


def test_public_names() -> None:
    for name in matchers.__all__:
        assert hasattr(matchers, name)
    assert {"Engine", "Reference", "Query", "Match", "ScreeningError"} <= set(matchers.__all__)
