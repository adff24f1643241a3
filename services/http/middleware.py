"""Per-request observability: correlation id, access log line and request metrics.

It wraps the whole application (``Litestar.asgi_handler``), outside routing and the exception
handlers, so unknown routes (404), wrong methods (405) and errors are counted and logged too.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from kernel.metrics import Metrics

log = structlog.get_logger("postlog.access")

CORRELATION_HEADER = "x-correlation-id"
REQUEST_ID_HEADER = "x-request-id"
UNMATCHED_ROUTE = "unmatched"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_QUIET_ROUTES = frozenset({"/metrics", "/health"})


def correlation_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Correlation-ID`` (or ``X-Request-ID``) when it is sane, else a new uuid."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in (CORRELATION_HEADER.encode(), REQUEST_ID_HEADER.encode()):
            found.setdefault(lowered, value)
    for header in (CORRELATION_HEADER.encode(), REQUEST_ID_HEADER.encode()):
        raw = found.get(header)
        if raw is not None:
            text = raw.decode("latin-1").strip()
            if _VALID_ID.match(text):
                return text
    return str(uuid.uuid4())


class ObservabilityMiddleware:
    """Binds the correlation id (log context, ``scope["state"]``, response header) and records
    one access log line and the request metrics per HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        cid = correlation_id_from(list(scope["headers"]))
        scope.setdefault("state", {})["correlation_id"] = cid
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-correlation-id", cid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(correlation_id=cid):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = str(scope.get("path_template") or UNMATCHED_ROUTE)
        method = str(scope.get("method", ""))
        self.metrics.observe_request(method, route, status, seconds)
        level = log.debug if route in _QUIET_ROUTES and status < 400 else log.info
        level(
            "request",
            method=method,
            path=scope.get("path", ""),
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 2),
            actor=str(scope.get("state", {}).get("actor", "")),
        )


def install_observability(app: Litestar, metrics: Metrics) -> None:
    """Wrap the app's whole handler (routing and exception handling included)."""
    app.asgi_handler = ObservabilityMiddleware(app.asgi_handler, metrics)


NUL_IN_URL = "invalid URL: it contains a NUL character (U+0000)"


class UrlGuardMiddleware:
    """Refuses a request whose path or query string holds a NUL character (raw or ``%00``)
    with listmonk's ``{"message": ...}`` and 400, before any handler sees it: no text field
    of PostgreSQL can hold NUL, so a search, query or tag filter carrying one would otherwise
    fail deep in a query as a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and _url_holds_nul(scope):
            body = b'{"message":"' + NUL_IN_URL.encode() + b'"}'
            start: HTTPResponseStartEvent = {
                "type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]}
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await self.app(scope, receive, send)


def _url_holds_nul(scope: Scope) -> bool:
    query = scope.get("query_string", b"")
    raw_path = scope.get("raw_path") or b""
    return (b"%00" in query or b"\x00" in query or b"%00" in raw_path
            or "\x00" in scope.get("path", ""))


def install_url_guard(app: Litestar) -> None:
    """Wrap the app's handler (install before ``install_observability``, which then logs and
    counts the refusals)."""
    app.asgi_handler = UrlGuardMiddleware(app.asgi_handler)
