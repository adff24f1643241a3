"""``POST /api/import/subscribers`` (upload and start) and ``DELETE`` (stop, or reset).

The upload is validated in listmonk's order with its messages, copied to a temporary directory
of this process, a ZIP is unpacked, and the job starts in the background; the answer is the
import's status (``{"data": {name, total, imported, status}}``). GET of the status and the log
is on the query side (``services/query_api/imports.py``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, delete, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency

from events.base import EventMetadata
from events.crypto import master_key_from
from events.imports import ImportFailed, ImportStarted
from events.subscribers import SUBSCRIPTION_STATUSES, SubscriptionStatus
from events.validation import check_line
from services.auth.guard import require_auth
from services.command_api.context import correlation_id_of
from services.command_api.executor import NOTIFY_CHANNEL
from services.command_api.imports import job as jobs
from services.command_api.imports.params import (
    INVALID_PARAMS,
    ImportOptions,
    ImportParams,
    ParamsError,
    parse_params,
)
from services.command_api.imports.parser import ImportFileError, extract_csv, is_csv_name
from services.command_api.imports.status import ImportState, claim, current, finish
from services.command_api.imports.status import stop_or_reset as stop_or_reset_import
from services.command_api.store import PostgresEventStore
from services.command_api.subscribers.domains import DomainPolicy
from services.command_api.subscribers.index import live_lists
from services.http.errors import APIError
from services.runtime import Runtime

ALREADY_RUNNING = ("An import is already running. Wait for it to finish or stop it before"
                   " trying again.")
PERMISSION_DENIED = "Permission denied: lists"
INVALID_MODE = "Invalid mode"
INVALID_SUB_STATUS = "Invalid subscription status"
INVALID_DELIM = "Delimiter should be a single character."
INVALID_FILE = "Invalid file: http: no such file"
ERROR_ZIP = "Error processing ZIP file: {}"
# Uploads may be far larger than other request bodies (POSTLOG_MAX_BODY_BYTES).
IMPORT_MAX_BYTES = 4 * 1024**3
_COPY_CHUNK = 1 << 20
FILENAME_MAX_BYTES = 1000


def _json(data: Any) -> Response[bytes]:
    return Response(content=msgspec.json.encode({"data": data}), status_code=200,
                    media_type="application/json")


def _metadata(request: Request[Any, Any, Any], import_id: uuid.UUID | None) -> EventMetadata:
    """Metadata of the import's events: the upload request's, caused by the import."""
    cid = correlation_id_of(request)
    return EventMetadata(actor=str(request.scope.get("state", {}).get("actor", "")),
                         correlation_id=cid, request_id=cid,
                         causation_id=str(import_id) if import_id else cid)


def validate(params: ImportParams, filename: str) -> ImportOptions:
    """listmonk's checks of the params, in its order (400, or 403 without lists)."""
    if not params.lists and params.mode != "blocklist":
        raise APIError(403, PERMISSION_DENIED)
    if params.mode not in ("subscribe", "blocklist"):
        raise APIError(400, INVALID_MODE)
    raw_status = params.subscription_status or (
        "unconfirmed" if params.mode == "subscribe" else "unsubscribed")
    status: SubscriptionStatus | None = next(
        (s for s in SUBSCRIPTION_STATUSES if s == raw_status), None)
    if status is None:
        raise APIError(400, INVALID_SUB_STATUS)
    if len(params.delim.encode()) != 1 or (params.delim != "\t" and params.delim < " "):
        raise APIError(400, INVALID_DELIM)
    check_line(filename, "file name", FILENAME_MAX_BYTES)
    return ImportOptions(
        name=filename, mode="subscribe" if params.mode == "subscribe" else "blocklist",
        subscription_status=status,
        overwrite_userinfo=params.overwrite_userinfo,
        overwrite_subscription_status=params.overwrite_subscription_status,
        delim=params.delim, list_ids=tuple(dict.fromkeys(params.lists)))


def _copy_upload(upload: UploadFile, workdir: str) -> str:
    path = os.path.join(workdir, "upload")
    upload.file.seek(0)
    with open(path, "wb") as out:
        shutil.copyfileobj(upload.file, out, _COPY_CHUNK)
    return path


@post("/api/import/subscribers", guards=[require_auth], operation_id="importSubscribers",
      status_code=200, request_max_body_size=IMPORT_MAX_BYTES)
async def import_subscribers(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """Start importing the uploaded CSV (or ZIP) in the background."""
    async with runtime.pool.connection() as conn:
        if (await current(conn)).status == "importing":
            raise APIError(400, ALREADY_RUNNING)
    form = await request.form()
    raw_params = form.get("params")
    try:
        params = parse_params(raw_params if isinstance(raw_params, str) else "")
    except ParamsError as exc:
        raise APIError(400, INVALID_PARAMS.format(exc)) from None
    upload = form.get("file")
    options = validate(params, upload.filename if isinstance(upload, UploadFile) else "")
    if not isinstance(upload, UploadFile):
        raise APIError(400, INVALID_FILE)

    import_id = uuid.uuid4()
    metadata = _metadata(request, import_id)
    workdir = tempfile.mkdtemp(prefix="postlog-import-")
    try:
        path = await asyncio.to_thread(_copy_upload, upload, workdir)
        import_log = jobs.ImportLog()
        state, options = await _claim(runtime, import_id, options, metadata, import_log)
        if not is_csv_name(options.name):
            path = await _unzip(runtime, import_id, path, workdir, metadata, import_log)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    jobs.start(runtime.pool, jobs.ImportJob(
        import_id=import_id, options=options, csv_path=path, workdir=workdir,
        metadata=metadata, master_key=master_key_from(runtime.settings.master_key),
        on_append=runtime.metrics.observe_append,
        accept_email=DomainPolicy.of(await runtime.live_settings.get()).accepts), import_log)
    return _json(state.as_json())


async def _claim(
    runtime: Runtime, import_id: uuid.UUID, options: ImportOptions, metadata: EventMetadata,
    import_log: jobs.ImportLog,
) -> tuple[ImportState, ImportOptions]:
    """Become the running import (500 if another one got there first); unknown or deleted
    lists are dropped, with a log line."""
    import_log(f"processing '{options.name}'")
    async with runtime.pool.connection() as conn:
        async with conn.transaction():
            live = await live_lists(PostgresEventStore(conn), options.list_ids)
            unknown = [i for i in options.list_ids if i not in live]
            if unknown:
                import_log(f"ignoring unknown lists: {' '.join(map(str, unknown))}")
                options = replace(options, list_ids=tuple(
                    i for i in options.list_ids if i in live))
            started = ImportStarted(
                import_id=str(import_id), name=options.name, mode=options.mode,
                subscription_status=options.subscription_status,
                overwrite_userinfo=options.overwrite_userinfo,
                overwrite_subscription_status=options.overwrite_subscription_status,
                list_ids=list(options.list_ids), at=datetime.now(UTC))
            state = await claim(conn, started, f"{socket.gethostname()}:{os.getpid()}",
                                metadata, import_log.take())
            if state is None:  # another upload claimed the slot first
                raise APIError(400, ALREADY_RUNNING)
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return state, options


async def _unzip(runtime: Runtime, import_id: uuid.UUID, path: str, workdir: str,
                 metadata: EventMetadata, import_log: jobs.ImportLog) -> str:
    """The CSV inside the uploaded ZIP; on failure the import ends ``failed`` and 400 (listmonk
    answers 500, but a file that is not a ZIP is the client's error)."""
    try:
        return await asyncio.to_thread(extract_csv, path, workdir, import_log)
    except ImportFileError as exc:
        async with runtime.pool.connection() as conn:
            async with conn.transaction():
                await finish(conn, import_id, "failed", import_log.take(), ImportFailed(
                    import_id=str(import_id), reason=str(exc), imported=0,
                    at=datetime.now(UTC)), metadata)
            await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        raise APIError(400, ERROR_ZIP.format(exc)) from None


@delete("/api/import/subscribers", guards=[require_auth],
        operation_id="stopImportSubscribers", status_code=200)
async def stop_import(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """Stop the running import, or clear a finished one (status back to ``none``)."""
    metadata = _metadata(request, None)
    async with runtime.pool.connection() as conn, conn.transaction():
        state = await stop_or_reset_import(conn, metadata)
    return _json(state.as_json())
