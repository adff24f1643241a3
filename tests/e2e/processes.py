"""Starting, watching and stopping the OS processes of an e2e deployment (postlog and nginx)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_TEMPLATE = ROOT / "deploy" / "nginx" / "gateway.conf.template"
POSTLOG_BIN = Path(sys.executable).with_name("postlog")
NGINX_BIN = Path("/usr/sbin/nginx")
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM if the test process vanishes."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Substitute ``${NAME}`` for the given names only, like the nginx image's envsubst step."""
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    return template


def nginx_main_config(tmp: Path, gateway_conf: Path) -> str:
    """A minimal nginx.conf around the deploy template: everything written inside ``tmp``.

    The access log records which upstream served each request so tests can check the routing.
    """
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\n"
        f"pid {tmp / 'nginx.pid'};\n"
        f"error_log {tmp / 'nginx-error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    log_format routed '$request_method $uri $status $upstream_addr';\n"
        f"    access_log {tmp / 'nginx-access.log'} routed;\n"
        f"{temp_paths}\n"
        f"    include {gateway_conf};\n"
        "}\n"
    )


@dataclass
class Processes:
    """The processes of one deployment; ``stop_all`` always leaves none of them running."""

    log_dir: Path
    started: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, args: list[str], env: Mapping[str, str] | None = None) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        try:
            self.started[name] = subprocess.Popen(
                args,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_dir,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def logged(self, name: str, text: str) -> Callable[[], bool]:
        """A readiness probe: the process has written ``text`` to its output."""
        path = self.log_dir / f"{name}.log"
        return lambda: path.exists() and text in path.read_text(errors="replace")

    def check_alive(self) -> None:
        """Fail with the log of any process that has already exited."""
        for name, proc in self.started.items():
            if proc.poll() is not None:
                raise AssertionError(
                    f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}"
                )

    def run_once(self, name: str, args: list[str], env: Mapping[str, str], timeout: float) -> None:
        """Run a one-shot command (like compose's ``migrate`` service) and require success."""
        self.start(name, args, env)
        proc = self.started.pop(name)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._stop(proc)
            raise AssertionError(f"{name} did not finish:\n{self.log_tail(name)}") from None
        assert code == 0, f"{name} exited with {code}:\n{self.log_tail(name)}"

    def terminate(self, grace: float = 10.0) -> dict[str, int | None]:
        """SIGTERM every process group (reverse start order) and wait up to ``grace`` seconds,
        like ``docker compose stop``; returns each exit code (None: still running)."""
        for proc in reversed(list(self.started.values())):
            self._signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        codes: dict[str, int | None] = {}
        for name, proc in self.started.items():
            try:
                codes[name] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[name] = None
        return codes

    def stop_all(self) -> None:
        """Terminate everything; SIGKILL what outlives the grace period. Leaves nothing running."""
        for name, code in self.terminate().items():
            if code is None:
                self._stop(self.started[name])
        self.started.clear()

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        self._signal(proc, signal.SIGKILL)
        proc.wait(timeout=5)

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # each process leads its own group (start_new_session)


def wait_until(
    ready: Callable[[], bool], processes: Processes, what: str, timeout: float = 60.0
) -> None:
    """Poll ``ready`` until it holds, failing early if a process dies and late at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        if ready():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not ready after {timeout}s")


def answers(url: str, auth: tuple[str, str] | None = None, status: int = 200) -> Callable[[], bool]:
    """A readiness probe: GET ``url`` answers ``status``."""

    def probe() -> bool:
        try:
            return httpx.get(url, auth=auth, timeout=2).status_code == status
        except httpx.HTTPError:
            return False

    return probe
