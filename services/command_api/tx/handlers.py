"""The command handler of ``POST /api/tx``: queue rendered transactional messages, sealed.

The route has validated the request, read the template and the recipients and rendered one
message per recipient (none of which needs the command's transaction). Here, in it, each
message gets the key that seals it (the subscriber's data key, or a new key of its own for a
non-subscriber), the attachments are stored once and granted to every message, and one
``message.tx_queued`` event is staged per message on its own ``message-<uuid>`` stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.message_storage import Grant
from events.messages import MessageContent, TxMessageQueued, seal_content, stream_id
from events.store import NO_STREAM, StreamAppend
from services.command_api.erasure import SUBJECTS, subjects
from services.command_api.store import EventStore
from services.command_api.tx.binding import TxRequest
from services.command_api.tx.recipients import NOT_FOUND, Recipient
from services.command_api.tx.storage import TxStorage


@dataclass(frozen=True)
class RenderedTx:
    """A validated request, its message for each recipient found, and the not-found messages
    of those who were not (``default`` mode)."""

    request: TxRequest
    messages: Sequence[tuple[Recipient, MessageContent]]
    missing: Sequence[str]
    at: datetime


async def queue_tx(rendered: RenderedTx, store: EventStore, storage: TxStorage
                   ) -> dict[str, Any]:
    """``{"queued": n, "not_found": [...], "subjects": [...]}``. A subscriber erased since it
    was read is not queued and is named as not found, as if it never existed. ``subjects``
    names everyone the request names, so erasing any of them also clears this command's
    idempotency record (``not_found`` may quote an address)."""
    req = rendered.request
    keys = await store.data_keys(
        r.subscriber_id for r, _ in rendered.messages if r.subscriber_id is not None)
    not_found = list(rendered.missing)
    sealed: list[tuple[Grant, str]] = []  # each message's access and sealed content
    for recipient, content in rendered.messages:
        message_id = str(uuid.uuid4())
        if recipient.subscriber_id is None:
            key: bytes | None = await storage.message_key(message_id, recipient.email)
        else:
            key = keys.get(recipient.subscriber_id)
        if key is None:
            not_found.append(NOT_FOUND.format(recipient.subscriber_id, ""))
            continue
        sealed.append((Grant(message_id, recipient.subscriber_id, key),
                       seal_content(key, content, message_id, recipient.subscriber_id)))
    # The files are sealed once; each message gets their key sealed with its own key.
    refs = await storage.attach(req.attachments, [g for g, _ in sealed]) if sealed else []
    for grant, token in sealed:
        store.append(StreamAppend(stream_id(grant.message_id), NO_STREAM, [TxMessageQueued(
            message_id=grant.message_id, subscriber_id=grant.subscriber_id,
            template_id=req.template_id,
            sealed_with="message" if grant.subscriber_id is None else "subscriber",
            content=token, from_email=req.from_email, content_type=req.content_type,
            messenger=req.messenger, attachments=refs, at=rendered.at)]))
    named = subjects([r.subscriber_id for r, _ in rendered.messages], req.subscriber_emails)
    return {"queued": len(sealed), "not_found": not_found, SUBJECTS: named}
