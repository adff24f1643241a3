"""Command-side storage of queued messages: attachment bytes and non-subscribers' data keys.

- ``eventlog.attachments``: the files of a transactional message, written in the command's
  transaction and referenced from its events by id, size and SHA-256 (an event never holds
  the bytes). ``load_attachment`` checks the digest, so a row changed after the fact is
  refused rather than sent.
- ``eventlog.message_keys``: a data key per message to a recipient who is not a subscriber,
  beside the SHA-256 of the lower-cased address. ``erase_address`` destroys every such key of
  an address: its messages' sealed content then reads as erased, as a deleted subscriber's does.

Keys are stored wrapped with the master key (``POSTLOG_MASTER_KEY``) when one is configured,
bound to the message id, like subscribers' keys.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg.rows import tuple_row

from events.crypto import KEY_BYTES, NONCE_BYTES, KeyUnavailable, new_data_key
from events.messages import AttachmentRef

Conn = psycopg.AsyncConnection[Any]
_WRAPPED_PREFIX = b"w1"


@dataclass(frozen=True)
class AttachmentFile:
    """An attached file: its name, MIME type and bytes."""

    name: str
    content_type: str
    content: bytes


class AttachmentMissing(Exception):
    """The attachment was deleted, or its bytes no longer match the event's digest."""


def address_hash(email: str) -> str:
    """Hex SHA-256 of the lower-cased address (the same form as the subscriber e-mail index)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


async def store_attachments(conn: Conn, files: Sequence[AttachmentFile]) -> list[AttachmentRef]:
    """Write ``files`` in the caller's transaction; their references in the same order."""
    refs: list[AttachmentRef] = []
    for f in files:
        ref = AttachmentRef(attachment_id=str(uuid.uuid4()),
                            sha256=hashlib.sha256(f.content).hexdigest(), size=len(f.content))
        await conn.execute(
            "INSERT INTO eventlog.attachments (attachment_id, sha256, name, content_type, size,"
            " content) VALUES (%s, %s, %s, %s, %s, %s)",
            (ref.attachment_id, ref.sha256, f.name, f.content_type, ref.size, f.content))
        refs.append(ref)
    return refs


async def load_attachment(conn: Conn, ref: AttachmentRef) -> AttachmentFile:
    """The file ``ref`` names; ``AttachmentMissing`` if it is gone or was altered."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT name, content_type, content FROM eventlog.attachments WHERE attachment_id = %s",
        (ref.attachment_id,))
    row = await cur.fetchone()
    if row is None:
        raise AttachmentMissing(f"attachment {ref.attachment_id} is gone")
    content = bytes(row[2])
    if hashlib.sha256(content).hexdigest() != ref.sha256:
        raise AttachmentMissing(f"attachment {ref.attachment_id} does not match its digest")
    return AttachmentFile(name=str(row[0]), content_type=str(row[1]), content=content)


def _aad(message_id: str) -> bytes:
    return f"message:{message_id}:data_key".encode()


async def create_message_key(conn: Conn, message_id: str, email: str, *,
                             master_key: bytes | None = None) -> bytes:
    """A fresh data key for a message to ``email`` (not a subscriber), stored in the caller's
    transaction."""
    key = new_data_key()
    stored = key
    if master_key is not None:
        nonce = os.urandom(NONCE_BYTES)
        stored = _WRAPPED_PREFIX + nonce + AESGCM(master_key).encrypt(nonce, key,
                                                                      _aad(message_id))
    await conn.execute(
        "INSERT INTO eventlog.message_keys (message_id, email_hash, data_key) VALUES (%s, %s, %s)",
        (message_id, address_hash(email), stored))
    return key


async def load_message_key(conn: Conn, message_id: str, *,
                           master_key: bytes | None = None) -> bytes | None:
    """The message's data key; ``None`` once erased."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT data_key FROM eventlog.message_keys WHERE message_id = %s", (message_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    stored = bytes(row[0])
    if len(stored) == KEY_BYTES:
        return stored
    if master_key is None:
        raise KeyUnavailable("message keys are wrapped; set POSTLOG_MASTER_KEY")
    body = stored[len(_WRAPPED_PREFIX):]
    try:
        return AESGCM(master_key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:],
                                          _aad(message_id))
    except InvalidTag as exc:
        raise KeyUnavailable("the master key does not unwrap this message key") from exc


async def erase_address(conn: Conn, email: str) -> int:
    """Destroy the keys of every message to ``email`` sent as a non-subscriber; how many."""
    cur = await conn.execute("DELETE FROM eventlog.message_keys WHERE email_hash = %s",
                             (address_hash(email),))
    return cur.rowcount
