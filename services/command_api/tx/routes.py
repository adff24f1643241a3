"""``POST /api/tx``: render a transactional message now, queue it for the sender as events.

Validated and rendered like listmonk's ``SendTxMessage`` (its messages and statuses): a bad
request, an unknown or non-transactional template, or a template error is a 400 and queues
nothing. The route reads the template and the recipients and renders; one handler
(``handlers.py``) then queues, in one transaction, each recipient's message as one
``message.tx_queued`` event on its own stream (``message-<uuid>``), its personal content sealed
(``events/messages.py``), and stores the attachments in ``eventlog.attachments``, sealed so that
erasing a recipient shreds its access to them (``events/message_storage.py``). In ``default``
mode unknown subscribers are skipped and named in a 400 after the others were queued, as
listmonk does. Answers ``{"data": true}``; delivery is the sender's job.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency

from events.crypto import master_key_from
from events.message_storage import AttachmentFile
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.decider import load
from services.command_api.executor import execute_handler, store_response
from services.command_api.respond import answer
from services.command_api.templates.decider import Active as ActiveTemplate
from services.command_api.templates.decider import stream_id as template_stream
from services.command_api.templates.decider import template_decider
from services.command_api.tx import handlers
from services.command_api.tx.binding import TxRequest, bind_multipart, bind_tx, validate
from services.command_api.tx.recipients import find_subscribers, resolve
from services.command_api.tx.render import compile_tx, render_tx
from services.command_api.tx.storage import TX_STORAGE
from services.http.errors import APIError
from services.runtime import Runtime
from services.sender.templating import I18n
from services.sender.templating.data import ENGLISH

TEMPLATE_NOT_FOUND = "template {} not found"
TX_MAX_BYTES = 32 * 1024 * 1024  # attachments included
AnyRequest = Request[Any, Any, Any]


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


async def render_messages(runtime: Runtime, req: TxRequest) -> handlers.RenderedTx:
    """The message of every recipient found: the template (from its stream) and the
    subscribers (from the read model) are read before the command, which needs neither in
    its transaction. 400 if the template or a rendering fails, or nobody was found."""
    template = await load_tx_template(runtime, req.template_id)
    compiled = compile_tx(req, template, i18n=I18n(ENGLISH))
    recipients, missing = await resolve(req, partial(find_subscribers, runtime.read_pool))
    messages = [(r, render_tx(compiled, r.subscriber)) for r in recipients]
    if not messages:
        raise APIError(400, "; ".join(missing))
    return handlers.RenderedTx(request=req, messages=messages, missing=missing,
                               at=datetime.now(UTC))


@post("/api/tx", guards=[require_auth], operation_id="sendTxMessage", status_code=200,
      request_max_body_size=TX_MAX_BYTES)
async def send_tx(request: AnyRequest, runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """Render the message for every recipient and queue it for delivery."""
    settings = runtime.settings
    app = await runtime.live_settings.get()
    req = validate(await read_request(request), default_from_email=app.app_from_email)
    rendered = await render_messages(runtime, req)
    ctx = await command_context(request)
    outcome = await execute_handler(
        runtime.pool, ctx, partial(handlers.queue_tx, rendered),
        master_key=master_key_from(settings.master_key), ports=TX_STORAGE)
    not_found = outcome.result.get("not_found") or []
    if outcome.stored_response is None and not_found:
        body = msgspec.json.encode({"message": "; ".join(not_found)})
        if ctx.idempotency_key:
            await store_response(runtime.pool, ctx.idempotency_key, 400, body)
        return Response(content=body, status_code=400, media_type="application/json")
    return await answer(runtime, ctx, outcome, ())
