"""Server information through HTTP (docs/server_info.md): ``/api/config``, ``/api/about``,
``/api/lang/:lang``, ``/api/logs``, ``/api/events``, ``/health``, the custom CSS of the settings
and ``app.site_name`` on the public pages. Settings are global, so these tests run on a postlog
of their own (``settings_support.settings_stack``)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn

from kernel.logring import LogRing, LogShipper, redact
from kernel.settings import Settings
from tests.integration.settings_support import SettingsStack, put_setting, settings_stack
from tests.integration.subscribers_support import make_list

DEADLINE = 20.0


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    async with settings_stack(admin_pg_url, settings) as own:
        collector = own.app.state.log_collector
        assert isinstance(collector, LogShipper)
        assert await collector.wait_ready(DEADLINE)
        yield own


async def _other_process(stack: SettingsStack) -> tuple[LogRing, LogShipper]:
    """The log ring and shipper of another postlog process (its own origin) on the same NATS."""
    ring = LogRing(origin=f"other-host:{uuid.uuid4().hex[:6]}")
    shipper = LogShipper(stack.settings, ring, name="other-process")
    await shipper.start()
    assert await shipper.wait_ready(DEADLINE)
    return ring, shipper


def _log(ring: LogRing, level: str, event: str, **fields: Any) -> None:
    """Log a line in ``ring``'s process as structlog would (redaction, then the ring)."""
    entry = {"event": event, "level": level, "timestamp": datetime.now(UTC).isoformat(),
             **fields}
    ring.processor(None, level, redact(None, level, entry))


async def test_config_has_listmonks_shape(stack: SettingsStack) -> None:
    async with stack.client() as api:
        response = await api.get("/api/config")
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) >= {"root_url", "from_email", "public_subscription", "privacy",
                         "media_provider", "messengers", "langs", "lang", "permissions",
                         "update", "needs_restart", "has_legacy_user", "version"}
    assert data["root_url"] == "http://mail.example.org"
    assert data["messengers"] == ["email"]
    assert data["langs"] == [{"code": "en", "name": "English (en)"}]
    assert data["needs_restart"] is False
    assert data["version"].startswith("v")
    assert data["public_subscription"]["captcha_enabled"] is False
    assert {"group": "lists", "permissions": ["lists:get_all", "lists:manage_all"]} in \
        data["permissions"]
    async with stack.client(anonymous=True) as anon:
        assert (await anon.get("/api/config")).status_code == 403


async def test_about_has_listmonks_shape_without_envelope(stack: SettingsStack) -> None:
    async with stack.client() as api:
        response = await api.get("/api/about")
    assert response.status_code == 200
    about = response.json()
    assert "data" not in about  # listmonk answers /api/about bare
    assert about["version"].startswith("v") and about["build"]
    assert about["database"]["version"].startswith("PostgreSQL")
    assert about["database"]["server_version"].split(".")[0].isdigit()
    assert isinstance(about["database"]["size_mb"], int)
    assert about["nats"]["version"] and about["nats"]["version"][0].isdigit()
    assert about["system"]["num_cpu"] >= 1 and about["system"]["memory_alloc_mb"] > 0
    assert set(about["host"]) == {"os", "arch", "hostname"}


async def test_lang_serves_english_and_refuses_others(stack: SettingsStack) -> None:
    async with stack.client() as api:
        english = await api.get("/api/lang/en")
        other = await api.get("/api/lang/fr")
        bad = await api.get("/api/lang/en;drop")
    assert english.status_code == 200
    assert english.json()["data"]["_.code"] == "en"
    assert english.json()["data"]["public.sub"] == "Subscribe"
    assert other.status_code == 404 and other.json() == {"message": "Unknown language."}
    assert bad.status_code == 400 and bad.json() == {"message": "Invalid language code."}


async def test_health_answers_without_credentials(stack: SettingsStack) -> None:
    async with stack.client(anonymous=True) as anon:
        response = await anon.get("/health")
    assert response.status_code == 200 and response.json() == {"data": True}


async def test_logs_show_lines_of_other_processes_without_personal_data(
    stack: SettingsStack,
) -> None:
    ring, shipper = await _other_process(stack)
    marker = f"disk_nearly_full_{uuid.uuid4().hex[:8]}"
    try:
        _log(ring, "warning", marker, email="someone@example.com",
             detail="bounce from someone@example.com", password="hunter2")
        async with stack.client() as api:
            deadline = asyncio.get_running_loop().time() + DEADLINE
            while True:
                response = await api.get("/api/logs")
                assert response.status_code == 200
                found = [line for line in response.json()["data"] if marker in line]
                if found or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.05)
        assert len(found) == 1, "the other process's line never reached /api/logs"
        assert ring.origin in found[0]
        assert "someone@example.com" not in found[0] and "hunter2" not in found[0]
    finally:
        await shipper.close()
    async with stack.client(anonymous=True) as anon:
        assert (await anon.get("/api/logs")).status_code == 403


async def _read_events(url: str, auth: httpx.Auth, started: asyncio.Event,
                       wanted: str) -> dict[str, Any]:
    """The first ``data:`` event of ``/api/events`` whose message holds ``wanted``."""
    async with httpx.AsyncClient(auth=auth, timeout=DEADLINE) as client, \
            client.stream("GET", f"{url}/api/events?type=error") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith(": connected"):
                started.set()
            if line.startswith("data: ") and wanted in line:
                event: dict[str, Any] = json.loads(line[len("data: "):])
                return event
    raise AssertionError("the event stream ended")


async def test_events_stream_errors_of_other_processes(stack: SettingsStack) -> None:
    config = uvicorn.Config(stack.app, host="127.0.0.1", port=0, lifespan="off",
                            log_config=None, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    ring, shipper = await _other_process(stack)
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        assert stack.settings.admin_user and stack.settings.admin_password
        auth = httpx.BasicAuth(stack.settings.admin_user, stack.settings.admin_password)
        started = asyncio.Event()
        marker = f"smtp_failed_{uuid.uuid4().hex[:8]}"
        reader = asyncio.create_task(
            _read_events(f"http://127.0.0.1:{port}", auth, started, marker))
        await asyncio.wait_for(started.wait(), DEADLINE)
        _log(ring, "warning", f"{marker}_notice")  # not an error: filtered by ?type=error
        _log(ring, "error", marker, to="a@example.com")
        event = await asyncio.wait_for(reader, DEADLINE)
        assert event["type"] == "error"
        assert marker in event["message"] and "a@example.com" not in event["message"]
        assert f"{marker}_notice" not in event["message"]
        assert set(event) == {"id", "type", "message", "data"}
    finally:
        await shipper.close()
        server.should_exit = True
        await serving


async def test_custom_css_is_served_after_a_settings_put(stack: SettingsStack) -> None:
    css = "body { background: #fafafa; }\n.brand { color: #123456; }"
    await put_setting(stack, "appearance.public.custom_css", css)
    await put_setting(stack, "appearance.admin.custom_css", "nav { display: none; }")
    async with stack.client(anonymous=True) as anon:
        public = await anon.get("/public/custom.css")
        admin_anon = await anon.get("/admin/custom.css")
    async with stack.client() as api:
        admin = await api.get("/admin/custom.css")
        await make_list(api, type="public", name="Weekly")
        form = await api.get("/subscription/form")
    assert public.status_code == 200 and public.text == css
    assert public.headers["content-type"] == "text/css; charset=utf-8"
    assert admin.status_code == 200 and admin.text == "nav { display: none; }"
    assert admin.headers["content-type"] == "text/css; charset=utf-8"
    assert admin_anon.status_code == 403
    # the public pages link it, and their policy lets the browser load it
    assert '<link rel="stylesheet" href="http://mail.example.org/public/custom.css">' in form.text
    assert "http://mail.example.org" in form.headers["content-security-policy"]


async def test_site_name_is_shown_on_public_pages(stack: SettingsStack) -> None:
    await put_setting(stack, "app.site_name", "The Gazette")
    async with stack.client() as api:
        await make_list(api, type="public", name="Daily")
        form = await api.get("/subscription/form")
        missing = await api.get(f"/subscription/optin/{uuid.uuid4()}")
    assert form.status_code == 200
    assert "<title>Subscribe - The Gazette</title>" in form.text
    assert missing.status_code == 404 and "- The Gazette</title>" in missing.text
