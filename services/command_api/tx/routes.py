"""``POST /api/tx``: render a transactional message now, queue it for the sender as events.

Validated and rendered like listmonk's ``SendTxMessage`` (its messages and statuses): a bad
request, an unknown or non-transactional template, or a template error is a 400 and queues
nothing. Each recipient's message becomes one ``message.tx_queued`` event on its own stream
(``message-<uuid>``), its personal content sealed (``events/messages.py``); attachments go to
``eventlog.attachments`` in the same transaction, sealed so that erasing a recipient shreds
its access to them (``events/message_storage.py``). In ``default`` mode unknown subscribers are
skipped and named in a 400 after the others were queued, as listmonk does. Answers
``{"data": true}``; delivery is the sender's job.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import psycopg
from litestar import Request, Response, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency

from events.crypto import load_keys, master_key_from
from events.message_storage import (
    AttachmentFile,
    Grant,
    create_message_key,
    grant_attachments,
    store_attachments,
)
from events.messages import TxMessageQueued, seal_content, stream_id
from events.store import NO_STREAM, StreamAppend
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.decider import load
from services.command_api.erasure import SUBJECTS, subjects
from services.command_api.executor import Decision, execute, store_response
from services.command_api.respond import answer
from services.command_api.templates.decider import Active as ActiveTemplate
from services.command_api.templates.decider import stream_id as template_stream
from services.command_api.templates.decider import template_decider
from services.command_api.tx.binding import TxRequest, bind_multipart, bind_tx, validate
from services.command_api.tx.recipients import NOT_FOUND, Recipient, resolve
from services.command_api.tx.render import compile_tx, render_tx
from services.http.errors import APIError
from services.runtime import Runtime
from services.sender.templating import I18n
from services.sender.templating.data import ENGLISH

TEMPLATE_NOT_FOUND = "template {} not found"
TX_MAX_BYTES = 32 * 1024 * 1024  # attachments included
AnyRequest = Request[Any, Any, Any]
Conn = psycopg.AsyncConnection[Any]


async def read_request(request: AnyRequest) -> TxRequest:
    """The request as listmonk binds it: multipart (``data`` + ``file`` parts) or JSON."""
    body = await request.body()  # read once: the idempotency fingerprint needs it too
    media_type = request.content_type[0].lower()
    if media_type == "multipart/form-data":
        form = await request.form()
        values = [v for v in form.getall("data", []) if isinstance(v, str)]
        files = [AttachmentFile(name=f.filename or "",
                                content_type=f.content_type or "application/octet-stream",
                                content=await f.read())
                 for f in form.getall("file", []) if isinstance(f, UploadFile)]
        return bind_multipart(values, files)
    if body.strip() and media_type != "application/json":
        raise APIError(415, "Unsupported Media Type")
    return bind_tx(body)


async def load_tx_template(runtime: Runtime, template_id: int) -> ActiveTemplate:
    """The live tx template (from its stream); 400 ``template <id> not found`` otherwise."""
    async with runtime.pool.connection() as conn:
        state, _ = await load(conn, template_stream(template_id), template_decider)
    if not isinstance(state, ActiveTemplate) or state.template_type != "tx":
        raise APIError(400, TEMPLATE_NOT_FOUND.format(template_id))
    return state


@post("/api/tx", guards=[require_auth], operation_id="sendTxMessage", status_code=200,
      request_max_body_size=TX_MAX_BYTES)
async def send_tx(request: AnyRequest, runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """Render the message for every recipient and queue it for delivery."""
    settings = runtime.settings
    req = validate(await read_request(request), default_from_email=settings.from_email)
    template = await load_tx_template(runtime, req.template_id)
    compiled = compile_tx(req, template, i18n=I18n(ENGLISH))
    recipients, missing = await resolve(runtime.read_pool, req)
    rendered = [(r, render_tx(compiled, r.subscriber)) for r in recipients]
    if not rendered:
        raise APIError(400, "; ".join(missing))
    master_key = master_key_from(settings.master_key)
    at = datetime.now(UTC)
    ctx = await command_context(request)

    async def decide(conn: Conn) -> Decision:
        known = [r.subscriber_id for r, _ in rendered if r.subscriber_id is not None]
        keys = await load_keys(conn, known, master_key=master_key)
        not_found = list(missing)
        sealed: list[tuple[Grant, str]] = []  # each message's access and sealed content
        for recipient, content in rendered:
            message_id = str(uuid.uuid4())
            key = await _key_for(conn, recipient, keys, message_id, master_key)
            if key is None:  # erased since it was read: as if it did not exist
                not_found.append(NOT_FOUND.format(recipient.subscriber_id, ""))
                continue
            sealed.append((Grant(message_id, recipient.subscriber_id, key),
                           seal_content(key, content, message_id, recipient.subscriber_id)))
        # The files are sealed once; each message gets their key sealed with its own key.
        stored = await store_attachments(conn, req.attachments) if sealed else []
        await grant_attachments(conn, stored, [g for g, _ in sealed])
        refs = [s.ref for s in stored]
        appends = [StreamAppend(stream_id(g.message_id), NO_STREAM, [TxMessageQueued(
            message_id=g.message_id, subscriber_id=g.subscriber_id, template_id=req.template_id,
            sealed_with="message" if g.subscriber_id is None else "subscriber", content=token,
            from_email=req.from_email, content_type=req.content_type, messenger=req.messenger,
            attachments=refs, at=at)]) for g, token in sealed]
        # Whom the stored answer and the request's fingerprint name, so erasing any of them
        # clears this command's idempotency record (not_found may quote an address).
        named = subjects([r.subscriber_id for r, _ in rendered], req.subscriber_emails)
        return Decision(appends, {"queued": len(appends), "not_found": not_found,
                                  SUBJECTS: named})

    outcome = await execute(runtime.pool, ctx, decide)
    not_found = outcome.result.get("not_found") or []
    if outcome.stored_response is None and not_found:
        body = msgspec.json.encode({"message": "; ".join(not_found)})
        if ctx.idempotency_key:
            await store_response(runtime.pool, ctx.idempotency_key, 400, body)
        return Response(content=body, status_code=400, media_type="application/json")
    return await answer(runtime, ctx, outcome, ())


async def _key_for(conn: Conn, recipient: Recipient, keys: dict[int, bytes], message_id: str,
                   master_key: bytes | None) -> bytes | None:
    """The key sealing the message: the subscriber's, or a new one for a non-subscriber."""
    if recipient.subscriber_id is not None:
        return keys.get(recipient.subscriber_id)
    return await create_message_key(conn, message_id, recipient.email, master_key=master_key)
