"""``POST /api/media`` (upload) and ``DELETE /api/media/:id``, as listmonk's ``cmd/media.go``.

An upload is checked before anything is written (size against ``upload.max_file_size``, the
name, ``upload.extensions``, the content; ``services/media_storage/files.py``), then the file
and its thumbnail are written to the provider of ``upload.provider`` under a name nobody holds
(the name taken gets listmonk's ``_xxxxxx`` suffix), then ``media.uploaded`` is appended. If
the append fails the objects just written are removed; a retry answered from its
``Idempotency-Key`` removes them too (the first upload's file stands). A delete appends
``media.deleted`` and then removes the objects; one that cannot be removed is logged (an
orphan: docs/media.md says how to find them).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from litestar import Request, Response, delete, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.crypto import master_key_from
from events.settings import AppSettings
from events.validation import InvalidText, check_line
from kernel.errors import NotFound
from readmodels.media import fetch_media
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.executor import execute_handler
from services.command_api.media import handlers
from services.command_api.media.decider import NOT_FOUND, DeleteMedia, UploadMedia
from services.command_api.respond import answer
from services.http.errors import APIError
from services.http.params import path_id
from services.media_storage import render_media
from services.media_storage.files import (
    INVALID_FILE,
    THUMB_PREFIX,
    VECTOR_EXTS,
    CheckedFile,
    FileRefused,
    check_file,
    extension,
    random_letters,
    sanitize_filename,
    with_suffix,
)
from services.media_storage.providers import MediaStore, StorageError, store_for
from services.runtime import Runtime

log = structlog.get_logger(__name__)

PROJECTIONS = ("media",)
# The gateway takes bodies up to 100 MB (deploy/nginx); upload.max_file_size is checked below.
UPLOAD_BODY_MAX = 100 * 1024 * 1024
DEFAULT_MAX_FILE_KB = 5000  # listmonk's upload.max_file_size
NAME_ATTEMPTS = 8
FILENAME_MAX_BYTES = 1000
NO_FILE = "Invalid file: http: no such file"
NOT_MULTIPART = "Invalid file: request Content-Type isn't multipart/form-data"
TOO_LARGE = "Invalid file: the file is larger than upload.max_file_size ({} KB)"
ERROR_UPLOADING = "Error uploading file: {}"


def _now() -> datetime:
    return datetime.now(UTC)


def max_file_bytes(settings: AppSettings) -> int:
    """``upload.max_file_size`` (KB) in bytes; listmonk's 5000 KB when unset (0 or less)."""
    kb = settings.upload_max_file_size if settings.upload_max_file_size > 0 \
        else DEFAULT_MAX_FILE_KB
    return kb * 1024


@dataclass(frozen=True)
class Written:
    """Objects an upload wrote to its provider."""

    store: MediaStore
    name: str
    key: str
    thumb_key: str = ""
    own_thumb: bool = False  # the thumbnail is an object of its own (not the file itself)

    async def remove(self) -> None:
        """Remove them (best effort: a failure is logged, leaving an orphan)."""
        keys = [self.key, *([self.thumb_key] if self.own_thumb else [])]
        for key in keys:
            try:
                await self.store.delete(key)
            except StorageError as exc:
                log.warning("media_orphan_left", provider=self.store.name, key=key,
                            error=str(exc))


async def write_objects(store: MediaStore, name: str, data: bytes, checked: CheckedFile
                        ) -> Written:
    """Write the file (and its thumbnail) under ``name``, or under ``name_xxxxxx`` while the
    file's or the thumbnail's key is taken: nothing is ever overwritten."""
    for attempt in range(NAME_ATTEMPTS):
        candidate = name if attempt == 0 else with_suffix(name, random_letters(6))
        key = store.key_for(candidate)
        if not await store.put_new(key, data, checked.content_type):
            continue
        if checked.image is not None:
            thumb_key = store.key_for(THUMB_PREFIX + candidate)
            if not await store.put_new(thumb_key, checked.image.thumbnail, "image/png"):
                await Written(store, candidate, key).remove()
                continue
            return Written(store, candidate, key, thumb_key, own_thumb=True)
        if extension(candidate) in VECTOR_EXTS:
            return Written(store, candidate, key, key)  # an SVG is its own thumbnail
        return Written(store, candidate, key)
    raise StorageError("no free file name was found")


async def _uploaded_file(request: Request[Any, Any, Any]) -> UploadFile:
    if request.content_type[0].lower() != "multipart/form-data":
        raise APIError(400, NOT_MULTIPART)
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise APIError(400, NO_FILE)
    return upload


@post("/api/media", guards=[require_auth], operation_id="uploadMedia", status_code=200,
      request_max_body_size=UPLOAD_BODY_MAX)
async def upload_media(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """Store the uploaded ``file`` and answer its media JSON (listmonk's shape)."""
    settings = await runtime.live_settings.get()
    ctx = await command_context(request)  # reads the body first: the form is parsed from it
    upload = await _uploaded_file(request)
    data = await upload.read()
    limit = max_file_bytes(settings)
    if len(data) > limit:
        raise APIError(400, TOO_LARGE.format(limit // 1024))
    try:
        name = sanitize_filename(upload.filename or "")
        check_line(name, "filename", FILENAME_MAX_BYTES)
        checked = await asyncio.to_thread(check_file, name, data, settings.upload_extensions,
                                          upload.content_type or "")
    except FileRefused as exc:
        raise APIError(400, exc.message) from None
    except InvalidText as exc:
        raise APIError(400, INVALID_FILE.format(exc.message)) from None
    store = store_for(settings)
    try:
        written = await write_objects(store, name, data, checked)
    except StorageError as exc:
        log.error("media_upload_failed", provider=store.name, error=str(exc))
        raise APIError(500, ERROR_UPLOADING.format(exc)) from None

    image = checked.image
    command = UploadMedia(
        media_id=0, uuid=str(uuid.uuid4()), provider=store.name, key=written.key,
        filename=written.name, content_type=checked.content_type, size=len(data),
        thumb_key=written.thumb_key, width=image.width if image else 0,
        height=image.height if image else 0, at=_now())
    try:
        outcome = await execute_handler(
            runtime.pool, ctx, partial(handlers.record_upload, handlers.StoredObjects(command)),
            master_key=master_key_from(runtime.settings.master_key))
    except BaseException:
        await written.remove()  # nothing was recorded: no orphan left behind
        raise
    if outcome.stored_response is not None:
        await written.remove()  # a retry: the first upload's file is the one recorded
        return await answer(runtime, ctx, outcome, PROJECTIONS)
    media_id = int(outcome.result["media_id"])

    async def read() -> dict[str, Any]:
        row = await fetch_media(runtime.read_pool, media_id)
        if row is None:
            raise NotFound(NOT_FOUND)
        return render_media(row, await runtime.live_settings.get())

    return await answer(runtime, ctx, outcome, PROJECTIONS, read)


@delete("/api/media/{media_id:str}", guards=[require_auth], operation_id="deleteMediaById",
        status_code=200)
async def delete_media(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], media_id: FromPath[str]
) -> Response[bytes]:
    """Delete the file's record, then its objects; ``{"data": true}``."""
    command = DeleteMedia(media_id=path_id(media_id), at=_now())
    ctx = await command_context(request)
    outcome = await execute_handler(runtime.pool, ctx, partial(handlers.delete_media, command),
                                    master_key=master_key_from(runtime.settings.master_key))
    result = outcome.result or {}
    if outcome.stored_response is None and result.get("key"):
        settings = await runtime.live_settings.get()
        store = store_for(settings, str(result["provider"]))
        thumb = str(result.get("thumb_key") or "")
        await Written(store, "", str(result["key"]), thumb,
                      own_thumb=bool(thumb) and thumb != result["key"]).remove()
    return await answer(runtime, ctx, outcome, PROJECTIONS)
