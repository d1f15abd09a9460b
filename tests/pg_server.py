"""A throwaway PostgreSQL server for tests: initdb into a temp dir, pg_ctl start on 127.0.0.1, stop after.

Uses the Debian ``postgresql`` package's binaries (/usr/lib/postgresql/<version>/bin). initdb refuses
to run as root, so as root the server runs as the ``postgres`` system user in a directory it owns.
Trust authentication on loopback: the server lives only as long as the test session.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

START_TIMEOUT_S = 60


def find_bin_dir() -> Path | None:
    """The newest installed server's bin directory, or None when the postgresql package is absent."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")]
    found = [d for d in found if (d / "initdb").exists() and (d / "postgres").exists()]
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0, default=None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgServer:
    """One server; ``url(db)`` gives a SQLAlchemy URL, ``new_database()`` an empty database per test."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="policy-qa-pg-"))  # /tmp: reachable by the postgres user
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")  # KeyError when the package (and its user) is missing
            self.sockets.mkdir()
            for path in (self.root, self.sockets):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        else:
            self.sockets.mkdir()

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=timeout, cwd=self.root
        )

    def start(self) -> None:
        init = self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        if init.returncode:
            raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
        for _ in range(3):  # the free port may be taken between probing and binding
            self.port = _free_port()
            # fsync off: the tests kill clients, never this server, so its own crash safety is not under test
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} -c fsync=off"
            started = self._run(
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                "-w", "-t", str(START_TIMEOUT_S), "start",
            )  # fmt: skip
            if started.returncode == 0:
                return
        log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {started.stderr or started.stdout}\n{log}")

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
