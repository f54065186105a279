"""A private PostgreSQL cluster for tests and benchmarks that stop and start the database.

The machine's shared PostgreSQL is never stopped: this starts a cluster of its own with the
server binaries (``initdb``, ``pg_ctl`` from ``/usr/lib/postgresql/*/bin`` or ``PG_BINDIR``),
in a temporary directory, on a free loopback port, with trust authentication. PostgreSQL
refuses to run as root, so under root the binaries run as the ``postgres`` user, which owns
the directory.

    with PgCluster() as cluster:
        url = cluster.create_database("registry")
        cluster.stop()     # pg_ctl stop -m fast: the outage
        cluster.start()
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PgCluster", "unavailable_reason", "require_or_skip"]

RUN_AS = "postgres"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL server's binary folder, or None."""
    candidates = [os.environ["PG_BINDIR"]] if os.environ.get("PG_BINDIR") else \
        sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
               if Path(p).parent.name.isdigit() else 0, reverse=True)
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def unavailable_reason() -> str | None:
    """Why a private cluster cannot be started here, or None when it can."""
    if find_bindir() is None:
        where = os.environ.get("PG_BINDIR") or "/usr/lib/postgresql/*/bin"
        return f"PostgreSQL server binaries (initdb, pg_ctl) not found in {where}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no '{RUN_AS}' user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is not installed"
    return None


def require_or_skip() -> None:
    """In a test: skip when no cluster can be started, but fail when REQUIRE_POSTGRES is set."""
    import pytest

    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required (REQUIRE_POSTGRES=1) but a private cluster cannot start: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """A throw-away PostgreSQL cluster; ``durable=False`` turns fsync off (tests that only
    stop it cleanly need no durability, and it saves the shared disk's time)."""

    def __init__(self, *, durable: bool = True, port: int | None = None) -> None:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self.bindir = find_bindir()
        self.durable = durable
        self.port = port or free_port()
        self.base: Path | None = None

    # -- running the binaries -------------------------------------------------------------------

    def _command(self, *args: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", RUN_AS, "--", *args]
        return list(args)

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(self._command(*args), cwd=self.base, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            log = self.log_tail()
            raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()}\n{log}")

    @property
    def data(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    def log_tail(self, lines: int = 20) -> str:
        log = self.base / "server.log" if self.base else None
        if log and log.exists():
            return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    # -- life cycle -----------------------------------------------------------------------------

    def init(self) -> None:
        # Under /tmp, not pytest's tmp_path: the postgres user must be able to reach it.
        self.base = Path(tempfile.mkdtemp(prefix="pgcluster-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam(RUN_AS)
            os.chown(self.base, user.pw_uid, user.pw_gid)
        (self.base / "server.log").touch()
        if os.geteuid() == 0:
            os.chown(self.base / "server.log", user.pw_uid, user.pw_gid)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")

    def start(self, timeout: float = 60) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} "
                   f"-c max_connections=100 -c fsync={'on' if self.durable else 'off'}")
        self._run(str(self.bindir / "pg_ctl"), "start", "-D", str(self.data), "-w", "-t", str(int(timeout)),
                  "-l", str(self.base / "server.log"), "-o", options, timeout=timeout + 10)

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        self._run(str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w",
                  "-t", str(int(timeout)), timeout=timeout + 10)

    def running(self) -> bool:
        result = subprocess.run(self._command(str(self.bindir / "pg_ctl"), "status", "-D", str(self.data)),
                                cwd=self.base, capture_output=True)
        return result.returncode == 0

    def destroy(self) -> None:
        if self.base is None:
            return
        try:
            if self.data.exists() and self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def __enter__(self) -> PgCluster:
        try:
            self.init()
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

    # -- databases ------------------------------------------------------------------------------

    def url(self, database: str = "postgres", *, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create ``name`` and return its SQLAlchemy URL (psycopg 3 driver)."""
        import psycopg

        with psycopg.connect(self.url(driver="postgresql"), autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_accepting(self, timeout: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(driver="postgresql"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
