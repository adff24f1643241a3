"""Bounce tests' helpers: ``record_bounce`` appends a bounce the way bounce processing does
(``subscriber.bounce_recorded`` on the subscriber's stream, ``meta`` sealed with its key) for
other suites; the rest serves the bounce suites, which run on a postlog of their own
(``settings_support.settings_stack``: bounce settings are global) and need an HTTP server for
SNS's signing certificate."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from events.base import EventMetadata
from events.bounces import BounceRecorded, BounceType
from events.crypto import encrypt_value, field_aad, load_keys
from events.store import StreamAppend, append, stream_version
from services.runtime import Runtime
from tests.integration.settings_support import SettingsStack

_bounce_ids = itertools.count(random.randrange(10**9, 2 * 10**9))


async def record_bounce(runtime: Runtime, subscriber_id: int, *, kind: BounceType = "hard",
                        campaign_id: int | None = None, minutes_ago: int = 0) -> int:
    """Append a bounce the way bounce processing will, and wait until it can be read."""
    async with runtime.pool.connection() as conn:
        async with conn.transaction():
            key = (await load_keys(conn, [subscriber_id]))[subscriber_id]
            bounce_id = next(_bounce_ids)
            stream = f"subscriber-{subscriber_id}"
            event = BounceRecorded(
                subscriber_id=subscriber_id, bounce_id=bounce_id, campaign_id=campaign_id,
                kind=kind, source="demo",
                meta=encrypt_value(key, {"some": "parameter"}, field_aad(subscriber_id, "meta")),
                at=datetime.now(UTC) - timedelta(minutes=minutes_ago))
            position = await append(conn, [StreamAppend(
                stream, await stream_version(conn, stream), [event])], EventMetadata())
        await conn.execute("NOTIFY postlog_events")
    assert await runtime.waiter.wait(position, ["bounces"])
    return bounce_id


# --- a postlog of its own for the bounce tests (bounce settings are global) -----------------

async def configure(stack: SettingsStack, **values: Any) -> None:
    """Change the settings (``bounce_enabled=True`` is ``bounce.enabled``: the first ``_`` is
    a ``.``) with one ``PUT /api/settings`` of the whole object, as listmonk's UI does (the
    secrets not changed are sent masked and kept); return once this process's live settings
    are the new ones."""
    live = stack.runtime.live_settings
    async with stack.client() as api:
        body = (await api.get("/api/settings")).json()["data"]
        body.update({name.replace("_", ".", 1): value for name, value in values.items()})
        response = await api.put("/api/settings", json=body)
        assert response.status_code == 200, response.text
    await live.refresh(force=True)
    current = msgspec.to_builtins(live.current())
    for name, value in values.items():
        assert current[name.replace("_", ".", 1)] == value, name


async def rows(stack: SettingsStack, query: str, *params: Any) -> list[tuple[Any, ...]]:
    return await stack.rows(query, *params)


async def stream_types(stack: SettingsStack, subscriber_id: int) -> list[str]:
    """The types of the subscriber's events, in order."""
    found = await stack.rows("SELECT type FROM eventlog.events WHERE stream_id = %s"
                             " ORDER BY version", f"subscriber-{subscriber_id}")
    return [str(r[0]) for r in found]


async def stream_events(stack: SettingsStack, subscriber_id: int, event_type: str
                        ) -> list[dict[str, Any]]:
    found = await stack.rows("SELECT data FROM eventlog.events WHERE stream_id = %s"
                             " AND type = %s ORDER BY version",
                             f"subscriber-{subscriber_id}", event_type)
    return [dict(r[0]) for r in found]


async def event_total(stack: SettingsStack) -> int:
    return int((await stack.rows("SELECT count(*) FROM eventlog.events"))[0][0])


async def new_subscriber(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    fields.setdefault("email", f"b.{uuid.uuid4().hex[:10]}@example.com")
    response = await api.post("/api/subscribers", json=fields)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def new_list(api: httpx.AsyncClient) -> int:
    response = await api.post("/api/lists", json={"name": f"l-{uuid.uuid4().hex[:8]}"})
    assert response.status_code == 200, response.text
    return int(response.json()["data"]["id"])


async def new_campaign(api: httpx.AsyncClient, list_id: int, name: str) -> dict[str, Any]:
    response = await api.post("/api/campaigns", json={
        "name": name, "subject": "Hello", "lists": [list_id]})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


# --- a small HTTP server: SNS signing certificates and subscription URLs ---------------------

@dataclass
class CertServer:
    url: str
    pem: bytes
    paths: list[str] = field(default_factory=list)


@asynccontextmanager
async def cert_server(pem: bytes) -> AsyncIterator[CertServer]:
    """An HTTP server on 127.0.0.1 answering ``*.pem`` with ``pem`` and any other path with
    200 (an SNS subscription URL), recording the paths asked for."""
    server_state = CertServer(url="", pem=pem)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            path = line.decode("latin-1").split(" ")[1]
            server_state.paths.append(path)
            body = server_state.pem if path.endswith(".pem") else b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server_state.url = f"http://127.0.0.1:{port}"
    try:
        yield server_state
    finally:
        server.close()
        await server.wait_closed()


def self_signed() -> tuple[rsa.RSAPrivateKey, bytes]:
    """An RSA key and a self-signed certificate (PEM) for it, as SNS's signing certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)
