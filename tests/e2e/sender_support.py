"""What the sender's process tests share: an SMTP sink in a thread of the test process, and a
deployment of postlog processes to start, kill and restart.

``SMTPSink`` (aiosmtpd's ``Controller``) accepts every message and records, per message, the
campaign and subscriber it is for (``X-Listmonk-Campaign``, ``X-Listmonk-Subscriber``), so a
test counts who got what, duplicates included.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests import servers
from tests.e2e.conftest import ADMIN, _delete_stream, postlog_env
from tests.e2e.processes import POSTLOG_BIN, Processes, answers, free_port, wait_until

STARTUP_SECONDS = 90.0
LEASE_SECONDS = "2"
_HEADERS = BytesHeaderParser()


@dataclass
class SMTPSink:
    """Accepts every message; ``received[campaign_uuid]`` counts messages per subscriber."""

    received: dict[str, Counter[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        assert isinstance(content, bytes)
        headers = _HEADERS.parsebytes(content)
        campaign = str(headers.get("X-Listmonk-Campaign", ""))
        subscriber = str(headers.get("X-Listmonk-Subscriber", ""))
        with self.lock:
            self.received.setdefault(campaign, Counter())[subscriber] += 1
        return "250 2.0.0 Ok: queued"

    def counts(self, campaign_uuid: str) -> Counter[str]:
        with self.lock:
            return Counter(self.received.get(campaign_uuid, Counter()))

    def total(self, campaign_uuid: str) -> int:
        with self.lock:
            return sum(self.received.get(campaign_uuid, Counter()).values())


@contextmanager
def smtp_sink() -> Iterator[SMTPSink]:
    sink = SMTPSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class Deployment:
    """Postlog processes on one database and NATS prefix; ``command``/``query`` are the URLs
    of the APIs (one URL for both under ``postlog up``)."""

    processes: Processes
    env: dict[str, str]
    command: str
    query: str

    def start(self, name: str, *args: str) -> None:
        self.processes.start(name, [str(POSTLOG_BIN), *args], self.env)

    def kill(self, name: str) -> None:
        """SIGKILL (``kill -9``): no graceful stop, nothing flushed."""
        proc = self.processes.started.pop(name)
        proc.kill()
        proc.wait(timeout=10)

    def api(self, base: str) -> httpx.Client:
        return httpx.Client(base_url=base, auth=ADMIN, timeout=60)

    def wait(self, check: Callable[[], bool], what: str, within: float = 120.0) -> None:
        wait_until(check, self.processes, what, within)

    def logged_times(self, name: str, text: str, times: int) -> Callable[[], bool]:
        """A probe: the process's output holds ``text`` at least ``times`` times."""
        path = self.processes.log_dir / f"{name}.log"
        return lambda: path.exists() and path.read_text(errors="replace").count(text) >= times


@contextmanager
def deployment(admin_pg_url: str, nats_url: str, tmp: Path) -> Iterator[Deployment]:
    """A fresh database and prefix; processes are started by the test."""
    prefix = f"e2esend{uuid.uuid4().hex[:8]}"
    database_url = servers.create_database(admin_pg_url)
    processes = Processes(tmp)
    port = free_port()
    env = postlog_env(database_url, nats_url, prefix, port, tmp)
    env["POSTLOG_SENDER_LEASE_SECONDS"] = LEASE_SECONDS
    try:
        processes.run_once("migrate", [str(POSTLOG_BIN), "migrate"], env, timeout=60)
        base = f"http://127.0.0.1:{port}"
        yield Deployment(processes, env, base, base)
    finally:
        processes.stop_all()
        asyncio.run(_delete_stream(nats_url, prefix))
        servers.drop_database(admin_pg_url, database_url)


def serve(d: Deployment, name: str, port: int) -> None:
    """``postlog serve NAME`` on its own port (APIs) and wait until it runs."""
    env = {**d.env, "POSTLOG_PORT": str(port)}
    d.processes.start(name, [str(POSTLOG_BIN), "serve", name], env)
    if name.endswith("api"):
        d.wait(answers(f"http://127.0.0.1:{port}/metrics"), name, STARTUP_SECONDS)
    else:
        d.wait(d.processes.logged(name, f"postlog {name.split('-')[0]} running"), name,
               STARTUP_SECONDS)


def serve_sender(d: Deployment, name: str) -> None:
    """One more ``postlog serve sender`` process, logging to ``<name>.log``."""
    d.processes.start(name, [str(POSTLOG_BIN), "serve", "sender"], d.env)
    d.wait(d.processes.logged(name, "postlog sender running"), name, STARTUP_SECONDS)


def use_sink(d: Deployment, sink: SMTPSink, **app: Any) -> None:
    """Send every message to ``sink`` (one SMTP server, no TLS, no AUTH) with the ``app.*``
    settings given (``message_rate=...``)."""
    with d.api(d.query) as api:
        body = api.get("/api/settings").json()["data"]
    server = {**body["smtp"][0], "host": "127.0.0.1", "port": sink.port, "tls_type": "none",
              "auth_protocol": "none", "username": "", "password": "", "max_conns": 8,
              "enabled": True, "idle_timeout": "15s", "wait_timeout": "5s"}
    body["smtp"] = [server]
    body.update({f"app.{key}": value for key, value in app.items()})
    with d.api(d.command) as api:
        response = api.put("/api/settings", json=body)
        assert response.status_code == 200, response.text


def import_subscribers(d: Deployment, count: int) -> int:
    """A list of ``count`` confirmed subscribers (through the import API); its id."""
    with d.api(d.command) as api:
        response = api.post("/api/lists", json={"name": f"all {uuid.uuid4().hex[:6]}",
                                                "type": "private", "optin": "single"})
        assert response.status_code == 200, response.text
        list_id = int(response.json()["data"]["id"])
        lines = "email,name\n" + "".join(f"p{n}.{uuid.uuid4().hex[:6]}@example.com,P {n}\n"
                                         for n in range(count))
        response = api.post("/api/import/subscribers",
                            files={"file": ("subs.csv", lines.encode(), "text/csv")},
                            data={"params": '{"mode": "subscribe", "delim": ",",'
                                            ' "subscription_status": "confirmed",'
                                            f' "lists": [{list_id}]}}'})
        assert response.status_code == 200, response.text
    with d.api(d.query) as api:
        d.wait(lambda: api.get("/api/import/subscribers").json()["data"]["status"]
               == "finished", "import", 120)
    return list_id


def start_campaign(d: Deployment, list_id: int) -> dict[str, Any]:
    with d.api(d.command) as api:
        response = api.post("/api/campaigns", json={
            "name": "Processes", "subject": "Hi {{ .Subscriber.FirstName }}",
            "lists": [list_id], "body": "<p>Hello {{ .Subscriber.Name }}</p>"})
        assert response.status_code == 200, response.text
        created: dict[str, Any] = response.json()["data"]
        response = api.put(f"/api/campaigns/{created['id']}/status", json={"status": "running"})
        assert response.status_code == 200, response.text
    return created


def finished(d: Deployment, campaign_id: int, within: float = 180.0) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def done() -> bool:
        with d.api(d.query) as api:
            seen.update(api.get(f"/api/campaigns/{campaign_id}").json()["data"])
        return bool(seen["status"] == "finished")

    d.wait(done, f"campaign {campaign_id} finished", within)
    return seen


def wait_for_messages(d: Deployment, sink: SMTPSink, campaign_uuid: str, count: int) -> None:
    d.wait(lambda: sink.total(campaign_uuid) >= count, f"{count} messages", 120)


def elapsed(since: float) -> str:
    return f"{time.monotonic() - since:.1f}s"

