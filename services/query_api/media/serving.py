"""Serves uploaded files to browsers and mail readers, as listmonk's static route does.

- ``filesystem``: ``GET <upload.filesystem.upload_uri>/<name>`` (``/uploads/x.png``) answers
  the file ``<name>`` of ``upload.filesystem.upload_path``. Both APIs read the same directory
  (in compose a volume shared by their containers); the gateway sends GETs to the query API.
- ``s3`` with a relative ``upload.s3.public_url`` (``/media``): ``GET <public_url>/<key>``
  answers the object fetched from the bucket (listmonk's ``ServeS3Media``).

It is not a route of the route table: the URI is a live setting, so it is matched on each
request (``UploadsMiddleware``, installed around the query API by ``postlog/app.py``). Like
listmonk's static files, it is public: images in campaigns are fetched by mail readers.

An uploaded file never acts as a page of postlog's origin (where it could use a logged-in
user's session): every answer carries ``X-Content-Type-Options: nosniff`` and a
``Content-Security-Policy`` with ``sandbox`` (no script runs, the page gets an opaque origin),
and any type but images, plain text, audio and video is sent as an attachment to download. A
name carrying a path, a hidden file, or a link leading out of the directory is a 404.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import anyio
import structlog
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from events.settings import AppSettings
from services.media_storage.files import is_inline, type_of_name
from services.media_storage.providers import (
    ObjectMissing,
    StorageError,
    store_for,
    upload_dir,
    upload_uri,
)
from services.runtime import Runtime

log = structlog.get_logger(__name__)

CSP = ("default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline';"
       " sandbox")
NOT_FOUND = b'{"message":"Not Found"}'
FETCH_ERROR = b'{"message":"error fetching media"}'
CHUNK = 256 * 1024
# Prefixes the uploads can never take over (the APIs' own paths).
RESERVED = ("/api", "/subscription", "/metrics", "/health", "/archive", "/link", "/campaign")

SettingsSource = Callable[[], Awaitable[AppSettings]]


def _prefix(value: str) -> str:
    parts = [p for p in value.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts) if parts else ""


def upload_prefix(settings: AppSettings) -> tuple[str, str] | None:
    """``(provider, URI prefix)`` of the files this process serves now, or None."""
    if settings.upload_provider == "filesystem":
        prefix = upload_uri(settings)
    elif settings.upload_provider == "s3" and settings.upload_s3_public_url.startswith("/"):
        prefix = _prefix(settings.upload_s3_public_url)
    else:
        return None
    if not prefix or any(prefix == r or prefix.startswith(r + "/") for r in RESERVED):
        return None
    return settings.upload_provider, prefix


def file_headers(name: str, size: int) -> list[tuple[bytes, bytes]]:
    """The headers of an uploaded file's answer (see the module's notes)."""
    content_type = type_of_name(name)
    headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(size).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", CSP.encode()),
        (b"cross-origin-resource-policy", b"cross-origin"),
        (b"cache-control", b"public, max-age=3600"),
    ]
    if not is_inline(content_type):
        safe = "".join(c if c.isalnum() or c in "._-+~()" else "_" for c in name)
        headers.append((b"content-disposition",
                        f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(name)}"
                        .encode("latin-1")))
    return headers


def local_file(directory: str, name: str) -> tuple[str, int] | None:
    """``(path, size)`` of the regular file ``name`` directly in ``directory`` (symbolic
    links resolved and kept inside it), or None."""
    if (not name or "/" in name or "\\" in name or "\x00" in name or name.startswith(".")):
        return None
    root = os.path.realpath(directory)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.dirname(path) != root:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return path, info.st_size


class UploadsMiddleware:
    """Answers ``GET``/``HEAD`` under the uploads' URI; passes everything else on."""

    def __init__(self, app: ASGIApp, settings: SettingsSource) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        settings = await self.settings()
        found = upload_prefix(settings)
        path = str(scope.get("path", ""))
        if found is None or not path.startswith(found[1] + "/"):
            await self.app(scope, receive, send)
            return
        provider, prefix = found
        scope["path_template"] = prefix + "/{file}"  # one metrics route for every file
        rest = path[len(prefix) + 1:]
        head = scope.get("method") == "HEAD"
        if provider == "filesystem":
            await self._serve_file(settings, rest, head, send)
        else:
            await self._serve_object(settings, rest, head, send)

    async def _serve_file(self, settings: AppSettings, name: str, head: bool, send: Send
                          ) -> None:
        located = await anyio.to_thread.run_sync(local_file, upload_dir(settings), name)
        if located is None:
            await _json(send, 404, NOT_FOUND)
            return
        path, size = located
        await send({"type": "http.response.start", "status": 200,
                    "headers": file_headers(name, size)})
        if head:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        async with await anyio.open_file(path, "rb") as f:
            while True:
                chunk = await f.read(CHUNK)
                if not chunk:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _serve_object(self, settings: AppSettings, key: str, head: bool, send: Send
                            ) -> None:
        if not key or "\x00" in key or any(p in ("", ".", "..") for p in key.split("/")):
            await _json(send, 404, NOT_FOUND)
            return
        try:
            data = await store_for(settings, "s3").get(key)
        except ObjectMissing:
            await _json(send, 404, NOT_FOUND)
            return
        except StorageError as exc:
            log.warning("media_fetch_failed", key=key, error=str(exc))
            await _json(send, 500, FETCH_ERROR)
            return
        name = key.rsplit("/", 1)[-1]
        await send({"type": "http.response.start", "status": 200,
                    "headers": file_headers(name, len(data))})
        await send({"type": "http.response.body", "body": b"" if head else data,
                    "more_body": False})


async def _json(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def install_uploads(app: Litestar, runtime: Runtime) -> None:
    """Serve the uploaded files around ``app`` (install it before the URL guard and the
    observability middleware, which then wrap it)."""
    app.asgi_handler = UploadsMiddleware(app.asgi_handler, runtime.live_settings.get)
