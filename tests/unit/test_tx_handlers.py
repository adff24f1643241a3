"""Queueing transactional messages against the in-memory store and a ``TxStorage`` in memory:
one sealed message per recipient, who is not found, and messages to non-subscribers."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from events.message_storage import AttachmentFile, Grant
from events.messages import AttachmentRef, MessageContent, TxMessageQueued, open_content
from services.command_api.erasure import subjects
from services.command_api.tx import handlers
from services.command_api.tx.binding import TxRequest, validate
from services.command_api.tx.recipients import Recipient, resolve
from services.sender.templating.data import Subscriber
from tests.fake_store import InMemoryEventStore, run

T0 = datetime(2024, 1, 1, tzinfo=UTC)
FILE = AttachmentFile(name="invoice.pdf", content_type="application/pdf", content=b"%PDF-1.7")


class MemoryTxStorage:
    """``TxStorage`` in dicts: the key of each message to a non-subscriber (with its address),
    the files stored and the key each message may open them with."""

    def __init__(self) -> None:
        self.message_keys: dict[str, tuple[str, bytes]] = {}
        self.files: list[tuple[AttachmentRef, AttachmentFile]] = []
        self.grants: dict[str, bytes] = {}

    async def message_key(self, message_id: str, email: str) -> bytes:
        key = os.urandom(32)
        self.message_keys[message_id] = (email, key)
        return key

    async def attach(self, files: Sequence[AttachmentFile], grants: Sequence[Grant]
                     ) -> list[AttachmentRef]:
        refs = [AttachmentRef(attachment_id=str(uuid.uuid4()),
                              sha256=hashlib.sha256(f.content).hexdigest(), size=len(f.content))
                for f in files]
        self.files += zip(refs, files, strict=True)
        self.grants.update((g.message_id, g.recipient_key) for g in grants)
        return refs


def subscriber(subscriber_id: int, email: str) -> Subscriber:
    return Subscriber(ID=subscriber_id, Email=email, Name=email.split("@")[0].title())


def content_for(email: str) -> MessageContent:
    return MessageContent(to=[email], name="", subject="Your order", body=f"<p>{email}</p>")


def rendered(req: TxRequest, recipients: Sequence[Recipient], missing: Sequence[str] = ()
             ) -> handlers.RenderedTx:
    return handlers.RenderedTx(request=req, messages=[(r, content_for(r.email))
                                                      for r in recipients],
                               missing=list(missing), at=T0)


def request(**fields: Any) -> TxRequest:
    return validate(TxRequest(template_id=7, **fields), default_from_email="shop@example.com")


def queued(store: InMemoryEventStore) -> list[TxMessageQueued]:
    return [e for r in store.log if isinstance(e := r.decode(), TxMessageQueued)]


async def test_one_message_per_recipient_sealed_with_the_subscribers_key() -> None:
    store, storage = InMemoryEventStore(), MemoryTxStorage()
    keys = {sid: await store.data_key(sid, create=True) for sid in (1, 2)}
    req = request(subscriber_ids=(1, 2), attachments=(FILE,))
    to = [Recipient(subscriber(1, "ana@example.com"), 1),
          Recipient(subscriber(2, "bo@example.com"), 2)]
    result = await run(store, partial(handlers.queue_tx, rendered(req, to), storage=storage))

    assert result == {"queued": 2, "not_found": [], "subjects": subjects([1, 2])}
    messages = queued(store)
    assert [m.subscriber_id for m in messages] == [1, 2]
    [(ref, _)] = storage.files  # the file is stored once, for every message
    for message in messages:
        key = keys[message.subscriber_id or 0]
        assert (message.sealed_with, message.template_id, message.from_email) == (
            "subscriber", 7, "shop@example.com")
        assert open_content(key, message.content, message.message_id,
                            message.subscriber_id) == content_for(
            "ana@example.com" if message.subscriber_id == 1 else "bo@example.com")
        assert message.attachments == [ref] and storage.grants[message.message_id] == key
        assert store.streams[f"message-{message.message_id}"][0].version == 1
    assert storage.message_keys == {}


async def test_unknown_recipients_are_named_and_the_known_ones_still_queued() -> None:
    store, storage = InMemoryEventStore(), MemoryTxStorage()
    await store.data_key(1, create=True)
    ana = subscriber(1, "ana@example.com")

    async def find(ids: Sequence[int], emails: Sequence[str]
                   ) -> tuple[dict[int, Subscriber], dict[str, Subscriber]]:
        return {1: ana}, {"ana@example.com": ana}

    req = request(subscriber_emails=("Ana@example.com", "nobody@example.com"))
    recipients, missing = await resolve(req, find)
    assert missing == ["Subscriber (0: nobody@example.com) not found"]
    result = await run(store, partial(handlers.queue_tx, rendered(req, recipients, missing),
                                      storage=storage))
    assert (result["queued"], result["not_found"]) == (
        1, ["Subscriber (0: nobody@example.com) not found"])
    assert [m.subscriber_id for m in queued(store)] == [1]


async def test_a_subscriber_erased_since_it_was_read_is_not_found_and_nothing_is_stored() -> None:
    store, storage = InMemoryEventStore(), MemoryTxStorage()
    await store.data_key(2, create=True)
    store.erase([2])
    req = request(subscriber_ids=(2,), attachments=(FILE,))
    result = await run(store, partial(
        handlers.queue_tx, rendered(req, [Recipient(subscriber(2, "bo@example.com"), 2)]),
        storage=storage))
    assert (result["queued"], result["not_found"]) == (0, ["Subscriber (2: ) not found"])
    assert store.log == [] and storage.files == []


async def test_external_mode_looks_nobody_up_and_seals_with_a_key_of_the_message() -> None:
    store, storage = InMemoryEventStore(), MemoryTxStorage()

    async def find(ids: Sequence[int], emails: Sequence[str]
                   ) -> tuple[dict[int, Subscriber], dict[str, Subscriber]]:
        raise AssertionError("external mode looks nobody up")

    req = request(subscriber_mode="external", subscriber_emails=("guest@example.com",))
    recipients, missing = await resolve(req, find)
    assert missing == [] and [(r.email, r.subscriber_id) for r in recipients] == [
        ("guest@example.com", None)]
    result = await run(store, partial(handlers.queue_tx, rendered(req, recipients),
                                      storage=storage))
    assert result == {"queued": 1, "not_found": [],
                      "subjects": subjects([], ["guest@example.com"])}
    [message] = queued(store)
    email, key = storage.message_keys[message.message_id]
    assert (email, message.subscriber_id, message.sealed_with) == (
        "guest@example.com", None, "message")
    assert open_content(key, message.content, message.message_id, None) == content_for(
        "guest@example.com")
