"""A throwaway PostgreSQL server for the test run.

Integration tests run against a real PostgreSQL (SKIP LOCKED claims, outbox sync), not a
mock: this module starts a private server from the Debian binaries in a temp folder, on a free
port bound to 127.0.0.1 plus a unix socket in that folder, with trust auth and fsync off, and
removes everything at the end. initdb and pg_ctl refuse to run as root, so as root they run as
the ``postgres`` user (via ``runuser``) from cwd ``/``.
"""

from __future__ import annotations

import atexit
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

NOT_INSTALLED = "PostgreSQL not installed (apt-get install postgresql)"
START_TIMEOUT_S = 120
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PgServerError(RuntimeError):
    """The test PostgreSQL server could not be set up; the message says why and what to do."""


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has initdb and pg_ctl, or None."""
    candidates = []
    for bindir in glob.glob("/usr/lib/postgresql/*/bin"):
        version = Path(bindir).parent.name
        if (
            version.isdigit()
            and os.access(os.path.join(bindir, "initdb"), os.X_OK)
            and os.access(os.path.join(bindir, "pg_ctl"), os.X_OK)
        ):
            candidates.append((int(version), Path(bindir)))
    return max(candidates)[1] if candidates else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (start() retries if it is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def reap_stale(bindir: Path) -> list[Path]:
    """Stop and delete servers left by test runs that were killed (SIGKILL, power loss).

    Each server folder holds ``owner.pid``, the pid of the pytest process that started it; a
    folder whose owner is gone is stopped (``pg_ctl stop -m immediate``) and removed. Returns
    the folders removed. Folders of live runs and of other users are left alone.
    """
    removed = []
    pattern = "packstation-pg-*"
    folders = set(glob.glob(os.path.join(tempfile.gettempdir(), pattern)))
    folders.update(glob.glob(os.path.join("/tmp", pattern)))
    for folder in sorted(folders):
        root = Path(folder)
        try:
            owner = int((root / "owner.pid").read_text().strip())
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if _pid_alive(owner):
            continue
        server = PgServer(bindir)
        server.root = root
        server._running = (root / "data" / "postmaster.pid").exists()
        server.stop()
        removed.append(root)
    return removed


class PgServer:
    """One private PostgreSQL cluster: ``start()``, ``create_database()``, ``stop()``.

    *settings* are extra ``postgresql.conf`` lines for this server only (e.g. ``{"ssl": "on",
    "ssl_cert_file": "'/path/server.crt'"}``), values written as they are (quote strings as the
    file wants), applied after the defaults below; none by default.
    """

    def __init__(self, bindir: Path, superuser: str = "postgres", settings: dict[str, str] | None = None) -> None:
        self.bindir = bindir
        self.superuser = superuser
        self.settings = dict(settings or {})
        self.as_root = os.geteuid() == 0
        self.root: Path | None = None
        self.port = 0
        self._running = False

    # -- paths -----------------------------------------------------------------------------
    @property
    def datadir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        assert self.root is not None
        return self.root / "sock"

    @property
    def logfile(self) -> Path:
        assert self.root is not None
        return self.root / "server.log"

    # -- running binaries ------------------------------------------------------------------
    def _run(self, tool: str, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        try:
            proc = subprocess.run(
                cmd,
                cwd="/",
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise PgServerError(f"{tool} did not finish within {timeout} s: {' '.join(cmd)}") from exc
        if proc.returncode != 0:
            log = ""
            if self.root is not None and self.logfile.exists():
                log = "\nserver log:\n" + self.logfile.read_text(errors="replace")[-3000:]
            raise PgServerError(
                f"{tool} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}{log}"
            )

    def _check_root_prerequisites(self) -> None:
        if shutil.which("runuser") is None:
            raise PgServerError("running as root but 'runuser' is missing (apt-get install util-linux)")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PgServerError(
                "running as root but there is no 'postgres' user to run initdb/pg_ctl "
                "(apt-get install postgresql creates it)"
            ) from exc

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """initdb a fresh cluster in a temp folder and start it; raises PgServerError."""
        if self.as_root:
            self._check_root_prerequisites()
        # As root the folder must be reachable by 'postgres': /tmp is, $TMPDIR may not be.
        base = "/tmp" if self.as_root else None
        self.root = Path(tempfile.mkdtemp(prefix="packstation-pg-", dir=base))
        atexit.register(self.stop)
        (self.root / "owner.pid").write_text(f"{os.getpid()}\n")  # for reap_stale()
        self.sockdir.mkdir()
        if self.as_root:
            for path in (self.root, self.sockdir):
                shutil.chown(path, user="postgres", group="postgres")
        self._run(
            "initdb",
            "-D", str(self.datadir),
            "-U", self.superuser,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        )
        last_error: PgServerError | None = None
        for _attempt in range(3):
            self.port = free_port()
            self._write_conf()
            try:
                self._run(
                    "pg_ctl",
                    "start",
                    "-D", str(self.datadir),
                    "-l", str(self.logfile),
                    "-w",
                    "-t", str(START_TIMEOUT_S),
                )
            except PgServerError as exc:  # most likely the port was taken meanwhile
                last_error = exc
                continue
            self._running = True
            return
        assert last_error is not None
        raise last_error

    def _write_conf(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.sockdir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_connections": "600",  # several `packstation serve` processes (pool, overflow, workers) per test worker
            "dynamic_shared_memory_type": "mmap",  # a small /dev/shm in containers is enough
            "logging_collector": "off",
            "log_min_messages": "warning",
            **self.settings,
        }
        # postgresql.auto.conf is read last and rewritten whole on each attempt.
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        (self.datadir / "postgresql.auto.conf").write_text(text)

    def restart(self, mode: str = "immediate") -> None:
        """``pg_ctl restart -m MODE``: with ``immediate`` the server stops as in a crash (no checkpoint;
        every connection is cut) and recovers from its WAL on start. Same port, same data."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"pg_ctl stop mode {mode!r}")
        # -l again: without it the new postmaster would write to (and hold open) our captured stdout
        self._run("pg_ctl", "restart", "-D", str(self.datadir), "-m", mode, "-l", str(self.logfile), "-w",
                  "-t", str(START_TIMEOUT_S))

    def stop(self) -> None:
        """Stop the server at once (no checkpoint: the data is thrown away) and delete it all."""
        if self.root is None:
            return
        if self._running:
            self._running = False
            try:
                self._run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "immediate", "-w")
            except PgServerError:
                pass  # already gone; the folder is removed below either way
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    # -- databases -------------------------------------------------------------------------
    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server (TCP on 127.0.0.1, trust auth)."""
        return f"postgresql+psycopg://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        # CREATE/DROP DATABASE cannot run in a transaction: autocommit
        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.superuser, dbname="postgres",
                             connect_timeout=30, autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (``test_<uuid>`` by default) and return its name."""
        name = name or f"test_{uuid.uuid4().hex}"
        if not _DB_NAME.match(name):
            raise ValueError(f"bad database name {name!r}: use lowercase letters, digits and _")
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing any connection a test left open on it."""
        if not _DB_NAME.match(name):
            raise ValueError(f"bad database name {name!r}")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
