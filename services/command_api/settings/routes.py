"""Command routes of the settings: ``PUT /api/settings``, ``PUT /api/settings/:key``,
``POST /api/settings/smtp/test`` and ``POST /api/admin/reload``.

A PUT binds the body, runs the settings handler through the executor and answers listmonk's
``{"data": true}`` once the ``settings`` projection has the change (a GET then shows it);
every process picks it up from there (``services/live_settings.py``), this one at once.
listmonk restarts itself after a change (or asks for a restart while campaigns run:
``needs_restart``); postlog applies settings live, so the answer is always ``true``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
import structlog
from litestar import Request, Response, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.settings import SMTPServer
from kernel.errors import InvalidInput
from kernel.settings import Settings
from services.auth.guard import require_auth
from services.command_api.respond import run_handler
from services.command_api.settings.binding import (
    INVALID_DATA,
    blocks_in,
    key_body,
    settings_body,
)
from services.command_api.settings.commands import SettingsChange
from services.command_api.settings.handlers import change_settings
from services.command_api.settings.keys import SETTINGS_KEYS
from services.command_api.settings.smtp_test import (
    SMTPTestOutcome,
    run_smtp_test,
    smtp_test_request,
)
from services.http.binding import read_body
from services.runtime import Runtime
from services.sender.messengers.smtp import send_test_message

log = structlog.get_logger(__name__)

PROJECTIONS = ("settings",)


def process_values(settings: Settings) -> dict[str, str]:
    """What ``app.root_url`` and ``app.from_email`` are until the API changes them."""
    return {"app.root_url": settings.root_url, "app.from_email": settings.from_email}


async def _change(request: Request[Any, Any, Any], runtime: Runtime, given: dict[str, Any]
                  ) -> Response[bytes]:
    change = SettingsChange(given=given,
                            fresh_uuids=[str(uuid.uuid4()) for _ in range(blocks_in(given))],
                            process_values=process_values(runtime.settings),
                            at=datetime.now(UTC))
    response = await run_handler(request, runtime, partial(change_settings, change),
                                 PROJECTIONS, ports=SETTINGS_KEYS)
    await _reload_here(runtime)
    return response


async def _reload_here(runtime: Runtime) -> None:
    """This process applies the change at once (the others on the projector's notice)."""
    try:
        await runtime.live_settings.refresh()
    except Exception as exc:  # committed: the poll will pick it up
        log.warning("settings_reload_failed", error=str(exc))


@put("/api/settings", guards=[require_auth], operation_id="updateSettings", status_code=200)
async def update_settings(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                          ) -> Response[bytes]:
    """Replace the settings with the object sent (listmonk's whole settings object)."""
    given = await read_body(request, settings_body, None, None)
    if given is None:
        raise InvalidInput(f"{INVALID_DATA}: send the settings object")
    return await _change(request, runtime, given)


@put("/api/settings/{key:str}", guards=[require_auth], operation_id="updateSettingsByKey",
     status_code=200)
async def update_setting(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                         key: FromPath[str]) -> Response[bytes]:
    """Replace one key's value (the body is the value: ``{"vacuum": true, ...}``)."""
    given = await read_body(request, partial(key_body, key), None, None)
    if given is None:
        raise InvalidInput(f"{INVALID_DATA}: send the value of {key}")
    return await _change(request, runtime, given)


async def _send_with_smtp(server: SMTPServer, to: str, from_email: str) -> SMTPTestOutcome:
    return await send_test_message(server, to=to, from_email=from_email)


@post("/api/settings/smtp/test", guards=[require_auth], operation_id="testSMTPSettings",
      status_code=200)
async def send_smtp_test(request: Request[Any, Any, Any],
                             runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """Send a test message through the server in the body to its ``email``."""
    stored = await runtime.live_settings.get()
    server, to = smtp_test_request(await request.body(), stored)
    lines = await run_smtp_test(server, to, stored.app_from_email, _send_with_smtp)
    return _json({"data": lines})


@post("/api/admin/reload", guards=[require_auth], operation_id="reloadApp", status_code=200)
async def reload_app(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """listmonk restarts; postlog re-reads the settings in this process (the others follow
    the settings projection on their own)."""
    await runtime.live_settings.refresh(force=True)
    return _json({"data": True})


def _json(data: Any) -> Response[bytes]:
    return Response(content=msgspec.json.encode(data), status_code=200,
                    media_type="application/json")
