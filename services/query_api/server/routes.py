"""Server information (docs/server_info.md): ``GET /api/config``, ``/api/about``,
``/api/lang/:lang``, ``/api/logs``, ``/api/events`` (server-sent events), the custom CSS and
JS of the settings (``/public/custom.css``, ``/admin/custom.css``...) and the altcha challenge
of the public form (``/api/public/captcha/altcha``). Shapes are listmonk's (``cmd/admin.go``,
``cmd/settings.go``, ``cmd/events.go``, ``cmd/i18n.go``, ``cmd/handlers.go``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import ServerSentEvent, ServerSentEventMessage

from events.roles import PERMISSION_GROUPS
from events.settings import AppSettings
from kernel.logring import RING, LogShipper, ServerEvent
from services.auth.guard import require_auth
from services.http.errors import APIError
from services.query_api.server.about import about_info, version_string
from services.runtime import Runtime
from services.sender.messengers.registry import EMAIL, messenger_name
from services.server_info import captcha

CATALOGUE = Path(__file__).with_name("en.json")
LANGUAGE_CODE = re.compile(r"^[a-zA-Z_0-9-]{1,6}$")
EVENTS_KEEPALIVE_SECONDS = 15.0  # under the gateway's proxy_read_timeout (60 s)
EVENTS_QUEUE = 100  # events waiting for a slow client; more are dropped, as listmonk does
ASSET_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@cache
def catalogue() -> dict[str, str]:
    """postlog's English message catalogue (listmonk's shape: ``_.code``, ``_.name``, keys)."""
    data = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def languages() -> list[dict[str, str]]:
    lang = catalogue()
    return [{"code": lang["_.code"], "name": lang["_.name"]}]


def messengers(settings: AppSettings) -> list[str]:
    """The messengers campaigns may use now (listmonk's names: ``email``, ``email-<name>``,
    the postback messengers), as ``services/sender/messengers/registry.py`` builds them."""
    servers = [server for server in settings.smtp if server.enabled]
    names = [EMAIL] if servers else []
    names += [name for name in map(messenger_name, servers) if name]
    names += [m.name for m in settings.messengers if m.enabled and m.name]
    return list(dict.fromkeys(names))


def server_config(settings: AppSettings, version: str) -> dict[str, Any]:
    """listmonk's ``serverConfig``."""
    kind = captcha.provider(settings)
    altcha = settings.security_captcha.altcha
    hcaptcha = settings.security_captcha.hcaptcha
    return {
        "root_url": settings.app_root_url,
        "from_email": settings.app_from_email,
        "public_subscription": {
            "enabled": settings.app_enable_public_subscription_page,
            "captcha_enabled": bool(kind),
            "captcha_provider": kind or None,
            "captcha_key": hcaptcha.key if kind == "hcaptcha" else None,
            "altcha_complexity": altcha.complexity if kind == "altcha" else 0,
            "redirect_urls": [u for u in settings.security_trusted_urls if u != "*"] or None,
        },
        "privacy": {"disable_tracking": settings.privacy_disable_tracking,
                    "individual_tracking": settings.privacy_individual_tracking},
        "media_provider": settings.upload_provider,
        "messengers": messengers(settings),
        "langs": languages(),
        "lang": settings.app_lang,
        "permissions": [{"group": group, "permissions": list(perms)}
                        for group, perms in PERMISSION_GROUPS.items()],
        "update": None,  # postlog does not call home for updates
        "needs_restart": False,  # settings apply live (docs/settings.md)
        "has_legacy_user": False,
        "version": version,
    }


@get("/api/config", guards=[require_auth],
     operation_id="getServerConfig")
async def get_config(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    return {"data": server_config(await runtime.live_settings.get(), version_string())}


@get("/api/about", guards=[require_auth],
     operation_id="getAboutInfo")
async def get_about(request: Request[Any, Any, Any],
                    runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """listmonk answers this one without the ``data`` envelope."""
    shipper = getattr(request.app.state, "log_collector", None)
    nats_version = shipper.server_version() if isinstance(shipper, LogShipper) else None
    return await about_info(runtime, nats_version)


@get("/api/lang/{lang:str}", guards=[require_auth],
     operation_id="getI18nLang")
async def get_lang(lang: FromPath[str]) -> dict[str, Any]:
    if not LANGUAGE_CODE.match(lang):
        raise APIError(400, "Invalid language code.")
    if lang != catalogue()["_.code"]:
        raise APIError(404, "Unknown language.")
    return {"data": catalogue()}


@get("/api/logs", guards=[require_auth],
     operation_id="getLogs")
async def get_logs() -> dict[str, list[str]]:
    """The recent log lines of every process of the installation, oldest first."""
    return {"data": RING.lines()}


@get("/api/events", guards=[require_auth],
     operation_id="getEvents")
async def get_events(request: Request[Any, Any, Any]) -> ServerSentEvent:
    """Errors (``type: error``) and warnings (``type: notice``) of every process as they are
    logged, as server-sent events; ``?type=error`` keeps only those types. A comment line
    every ``EVENTS_KEEPALIVE_SECONDS`` keeps proxies from closing the stream."""
    wanted = {t for value in request.query_params.getall("type", []) for t in value.split(",")
              if t}
    queue: asyncio.Queue[ServerEvent] = asyncio.Queue(maxsize=EVENTS_QUEUE)

    def on_event(event: ServerEvent) -> None:
        if wanted and event.type not in wanted:
            return
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(event)

    stop = RING.listen(on_event)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        try:
            yield ServerSentEventMessage(comment="connected", data=None)
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), EVENTS_KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ServerSentEventMessage(comment="keepalive", data=None)
                    continue
                yield ServerSentEventMessage(data=json.dumps(event.to_json()), retry=3000)
        finally:
            stop()

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-store",
                                              "X-Accel-Buffering": "no"})


def _asset(content: str, media_type: str) -> Response[bytes]:
    return Response(content=content.encode(), media_type=media_type, headers=ASSET_HEADERS)


CSS = "text/css"  # litestar adds "; charset=utf-8"
JS = "application/javascript; charset=utf-8"


@get("/public/custom.css", operation_id="publicCustomCss")
async def public_custom_css(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    return _asset((await runtime.live_settings.get()).appearance_public_custom_css, CSS)


@get("/public/custom.js", operation_id="publicCustomJs")
async def public_custom_js(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    return _asset((await runtime.live_settings.get()).appearance_public_custom_js, JS)


@get("/admin/custom.css", guards=[require_auth],
     operation_id="adminCustomCss")
async def admin_custom_css(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    return _asset((await runtime.live_settings.get()).appearance_admin_custom_css, CSS)


@get("/admin/custom.js", guards=[require_auth],
     operation_id="adminCustomJs")
async def admin_custom_js(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    return _asset((await runtime.live_settings.get()).appearance_admin_custom_js, JS)


@get("/api/public/captcha/altcha", operation_id="altchaChallenge")
async def altcha_challenge(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """A fresh altcha challenge (404 ``captcha not enabled`` unless altcha is the captcha)."""
    settings = await runtime.live_settings.get()
    if captcha.provider(settings) != "altcha":
        raise APIError(404, "captcha not enabled")
    key = await captcha.hmac_key(runtime.pool)
    body = json.dumps(captcha.new_challenge(key, settings.security_captcha.altcha.complexity))
    return Response(content=body.encode(), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@asynccontextmanager
async def collect_logs(app: Litestar) -> AsyncIterator[None]:
    """Lifespan of the query API: follow the log lines every process publishes (NATS), so
    ``/api/logs`` and ``/api/events`` cover the installation."""
    runtime = app.state.runtime
    assert isinstance(runtime, Runtime)
    collector = LogShipper(runtime.settings, collect=True, ship=False, name="logs-collector")
    app.state.log_collector = collector
    await collector.start()
    try:
        yield
    finally:
        await collector.close()
