"""Erasure: everything the command side removes, in the erasing transaction, when a subscriber
(or an address that is not a subscriber) is erased. The list of what holds personal data and
what each step does is in docs/crypto-shredding.md.

For a subscriber (``DELETE /api/subscribers``, delete by query, the public wipe page), the
handler calls ``EventStore.erase_subscribers`` (``services/command_api/store.py``), which

1. destroys its data key (``shred_many``): its events, queued messages and, through the
   sealed file keys, its attachments can no longer be opened, in Postgres or on NATS;
2. releases its row of the e-mail index; the index's hash of its address is used for the rest,
   ``erase_copies`` here:
3. the keys of messages sent to that address as to a non-subscriber (tx ``external`` /
   ``fallback``) are destroyed too, so those messages read as erased;
4. attachment access rows of its messages (and of those messages) are deleted, with every file
   nobody can open any more;
5. stored idempotent answers that name it are cleared (see ``forget_answers``).

Import logs need nothing: their lines never hold personal data (line number and reason only).
The read models drop the subscriber when its ``subscriber.deleted`` is projected.

Stored answers are found by ``result->>'subscriber_id'`` (one-subscriber commands) or by the
``subjects`` a command lists in its result (``subjects(...)``: a transactional message or a
campaign test names several people, by id or by address).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
import structlog

from events.message_storage import (
    address_hash,
    drop_attachments,
    erase_message_keys,
)

log = structlog.get_logger(__name__)

Conn = psycopg.AsyncConnection[Any]

# The key of a command's result listing whom its stored answer and fingerprint are about.
SUBJECTS = "subjects"
# What an erased idempotency record answers with: nothing. Non-null, so an answer stored late
# (``executor.store_response`` writes only where none is) cannot bring a body back.
ERASED_STATUS = 410


def subjects(subscriber_ids: Iterable[int | None] = (), emails: Iterable[str] = ()) -> list[str]:
    """The ``subjects`` of a command's result: ``subscriber:<id>`` and ``email:<sha256>`` of
    everyone its request or answer names (sorted, no repeats)."""
    tags = {f"subscriber:{i}" for i in subscriber_ids if i is not None}
    tags |= {f"email:{address_hash(e)}" for e in emails if e}
    return sorted(tags)


async def forget_answers(conn: Conn, subscriber_ids: Iterable[int],
                         email_hashes: Iterable[str] = ()) -> int:
    """Clear the idempotency records about these subscribers or addresses: no stored answer,
    no result, no fingerprint of the request. A retry with such a key is refused (422) rather
    than run again. How many records were cleared."""
    ids = sorted(set(subscriber_ids))
    hashes = sorted(set(email_hashes))
    if not ids and not hashes:
        return 0
    tags = [f"subscriber:{i}" for i in ids] + [f"email:{h}" for h in hashes]
    cur = await conn.execute(
        "UPDATE eventlog.idempotency SET response_body = NULL, response_status = %s,"
        " fingerprint = 'erased', result = '{\"erased\": true}'::jsonb"
        " WHERE (result ? 'subscriber_id' AND result->>'subscriber_id' = ANY(%s::text[]))"
        " OR (result ? 'subjects' AND result->'subjects' ?| %s::text[])",
        (ERASED_STATUS, [str(i) for i in ids], tags))
    return cur.rowcount


async def erase_copies(conn: Conn, subscriber_ids: Iterable[int],
                       email_hashes: Iterable[str]) -> None:
    """Erase what is kept of these subscribers beside their events (steps 3 to 5 above), once
    their keys are destroyed and their e-mail index rows released (``email_hashes``, what those
    rows held); inside the transaction appending their ``subscriber.deleted``."""
    ids, hashes = sorted(set(subscriber_ids)), sorted(set(email_hashes))
    messages = await erase_message_keys(conn, hashes)
    files = await drop_attachments(conn, subscriber_ids=ids, message_ids=messages)
    answers = await forget_answers(conn, ids, hashes)
    log.debug("subscribers_erased", subscribers=len(ids), message_keys=len(messages),
              attachments=files, answers=answers)


async def erase_address(conn: Conn, email: str) -> int:
    """Erase what is kept of an address that is not a subscriber's: the keys of the messages
    sent to it (and their files) and the stored answers naming it; how many message keys."""
    key = address_hash(email)
    messages = await erase_message_keys(conn, [key])
    await drop_attachments(conn, message_ids=messages)
    await forget_answers(conn, (), [key])
    return len(messages)
