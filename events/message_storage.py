"""Command-side storage of queued messages: sealed attachments and non-subscribers' data keys.

- ``eventlog.attachments``: the files of a transactional message, written in the command's
  transaction and referenced from its events by id, size and SHA-256 (an event never holds
  the bytes). A file's name and bytes are sealed (AES-GCM) with a key of the file's own.
- ``eventlog.attachment_keys``: that file key once per message it goes with, sealed with the
  key that seals the message's content (the recipient subscriber's data key, or the message's
  own key below). Destroying a recipient's key thus shreds the file for that recipient, while
  the other recipients of the same request still read it: one copy of the bytes per request,
  however many recipients. ``drop_attachments`` also deletes an erased recipient's rows and
  every file no recipient holds a key to any more (files stored in clear before migration
  009 are erased only that way).
- ``eventlog.message_keys``: a data key per message to a recipient who is not a subscriber,
  beside the SHA-256 of the lower-cased address. ``erase_address`` destroys every such key of
  an address (and the files of those messages): its messages' sealed content then reads as
  erased, as a deleted subscriber's does.

``load_attachment`` opens a file for one message with that message's key and checks the
digest the event holds, so a row changed after the fact is refused rather than sent.

Keys are stored wrapped with the master key (``POSTLOG_MASTER_KEY``) when one is configured,
bound to the message id, like subscribers' keys; a file key is protected by the recipient's key.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg.rows import tuple_row

from events.crypto import (
    KEY_BYTES,
    NONCE_BYTES,
    DecryptionError,
    KeyUnavailable,
    decrypt_value,
    encrypt_value,
    new_data_key,
)
from events.messages import AttachmentRef

Conn = psycopg.AsyncConnection[Any]
_WRAPPED_PREFIX = b"w1"


@dataclass(frozen=True)
class AttachmentFile:
    """An attached file: its name, MIME type and bytes."""

    name: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class StoredAttachment:
    """A file written by ``store_attachments``: the reference events carry, and the file key
    (kept in memory only until ``grant_attachments`` seals it for each recipient)."""

    ref: AttachmentRef
    key: bytes


@dataclass(frozen=True)
class Grant:
    """One message's access to a request's files: the key sealing the message's content."""

    message_id: str
    subscriber_id: int | None
    recipient_key: bytes


class AttachmentMissing(Exception):
    """The attachment was deleted, or its bytes no longer match the event's digest."""


class AttachmentErased(AttachmentMissing):
    """The message's recipient was erased: the file can no longer be opened for it."""


def address_hash(email: str) -> str:
    """Hex SHA-256 of the lower-cased address (the same form as the subscriber e-mail index)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _seal(key: bytes, plain: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plain, aad)


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


def _file_aad(attachment_id: str, part: str) -> bytes:
    return f"attachment:{attachment_id}:{part}".encode()


def _grant_aad(attachment_id: str, message_id: str) -> bytes:
    return f"attachment:{attachment_id}:message:{message_id}:key".encode()


async def store_attachments(conn: Conn, files: Sequence[AttachmentFile]
                            ) -> list[StoredAttachment]:
    """Write ``files`` sealed, in the caller's transaction; their references and keys in the
    same order. Nobody can open them until ``grant_attachments`` gives messages access."""
    stored: list[StoredAttachment] = []
    for f in files:
        ref = AttachmentRef(attachment_id=str(uuid.uuid4()),
                            sha256=hashlib.sha256(f.content).hexdigest(), size=len(f.content))
        key = new_data_key()
        await conn.execute(
            "INSERT INTO eventlog.attachments (attachment_id, sha256, name, content_type, size,"
            " content, sealed) VALUES (%s, %s, %s, %s, %s, %s, true)",
            (ref.attachment_id, ref.sha256,
             encrypt_value(key, f.name, _file_aad(ref.attachment_id, "name")), f.content_type,
             ref.size, _seal(key, f.content, _file_aad(ref.attachment_id, "content"))))
        stored.append(StoredAttachment(ref=ref, key=key))
    return stored


async def grant_attachments(conn: Conn, stored: Sequence[StoredAttachment],
                            grants: Sequence[Grant]) -> None:
    """Let each granted message open every stored file: the file key, sealed with the
    message's content key, one row per file and message (one statement)."""
    rows = [(s.ref.attachment_id, g.message_id, g.subscriber_id,
             _seal(g.recipient_key, s.key, _grant_aad(s.ref.attachment_id, g.message_id)))
            for g in grants for s in stored]
    if not rows:
        return
    attachment_ids, message_ids, subscriber_ids, sealed_keys = map(list, zip(*rows, strict=True))
    await conn.execute(
        "INSERT INTO eventlog.attachment_keys (attachment_id, message_id, subscriber_id,"
        " sealed_key) SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::bigint[], %s::bytea[])",
        (attachment_ids, message_ids, subscriber_ids, sealed_keys))


async def load_attachment(conn: Conn, ref: AttachmentRef, *, message_id: str,
                          recipient_key: bytes | None) -> AttachmentFile:
    """The file ``ref`` names, opened for the message ``message_id`` with the key sealing
    that message's content (``None`` once erased). ``AttachmentErased`` if the recipient was
    erased, ``AttachmentMissing`` if the file is gone or was altered."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT a.name, a.content_type, a.content, a.sealed, k.message_id IS NOT NULL,"
        " k.sealed_key FROM eventlog.attachments a LEFT JOIN eventlog.attachment_keys k"
        " ON k.attachment_id = a.attachment_id AND k.message_id = %s"
        " WHERE a.attachment_id = %s", (message_id, ref.attachment_id))
    row = await cur.fetchone()
    if row is None:
        raise AttachmentMissing(f"attachment {ref.attachment_id} is gone")
    name, content_type, content, sealed, granted, sealed_key = row
    if not granted or recipient_key is None:
        raise AttachmentErased(f"attachment {ref.attachment_id}: the recipient was erased")
    if sealed:
        if sealed_key is None:
            raise AttachmentMissing(f"attachment {ref.attachment_id} has no key for {message_id}")
        try:
            key = _open(recipient_key, bytes(sealed_key),
                        _grant_aad(ref.attachment_id, message_id))
            name = decrypt_value(key, name, _file_aad(ref.attachment_id, "name"))
            content = _open(key, bytes(content), _file_aad(ref.attachment_id, "content"))
        except (InvalidTag, DecryptionError) as exc:
            raise AttachmentMissing(f"attachment {ref.attachment_id} does not open") from exc
    content = bytes(content)
    if hashlib.sha256(content).hexdigest() != ref.sha256:
        raise AttachmentMissing(f"attachment {ref.attachment_id} does not match its digest")
    return AttachmentFile(name=str(name), content_type=str(content_type), content=content)


async def drop_attachments(conn: Conn, *, subscriber_ids: Iterable[int] = (),
                           message_ids: Iterable[str] = ()) -> int:
    """Erasure's clean-up: delete the access rows of erased recipients (subscribers, or
    messages whose key was destroyed) and every file no recipient can open any more; how
    many files were deleted. Sealed files were unreadable already; files stored in clear
    before migration 008 are erased here."""
    ids, messages = sorted(set(subscriber_ids)), sorted(set(message_ids))
    if not ids and not messages:
        return 0
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "DELETE FROM eventlog.attachment_keys WHERE subscriber_id = ANY(%s::bigint[])"
        " OR message_id = ANY(%s::uuid[]) RETURNING attachment_id", (ids, messages))
    touched = sorted({str(row[0]) for row in await cur.fetchall()})
    if not touched:
        return 0
    cur = await conn.execute(
        "DELETE FROM eventlog.attachments a WHERE a.attachment_id = ANY(%s::uuid[])"
        " AND NOT EXISTS (SELECT 1 FROM eventlog.attachment_keys k"
        " WHERE k.attachment_id = a.attachment_id)", (touched,))
    return cur.rowcount


def _aad(message_id: str) -> bytes:
    return f"message:{message_id}:data_key".encode()


async def create_message_key(conn: Conn, message_id: str, email: str, *,
                             master_key: bytes | None = None) -> bytes:
    """A fresh data key for a message to ``email`` (not a subscriber), stored in the caller's
    transaction."""
    key = new_data_key()
    stored = key
    if master_key is not None:
        stored = _WRAPPED_PREFIX + _seal(master_key, key, _aad(message_id))
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
    try:
        return _open(master_key, stored[len(_WRAPPED_PREFIX):], _aad(message_id))
    except InvalidTag as exc:
        raise KeyUnavailable("the master key does not unwrap this message key") from exc


async def erase_message_keys(conn: Conn, email_hashes: Iterable[str]) -> list[str]:
    """Destroy the keys of every message sent, as to a non-subscriber, to one of these
    addresses (given by ``address_hash``); the ids of those messages."""
    hashes = sorted(set(email_hashes))
    if not hashes:
        return []
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "DELETE FROM eventlog.message_keys WHERE email_hash = ANY(%s) RETURNING message_id",
        (hashes,))
    return [str(row[0]) for row in await cur.fetchall()]


async def erase_address(conn: Conn, email: str) -> int:
    """Destroy the keys of every message to ``email`` sent as a non-subscriber, and the files
    only those messages could open; how many keys. (The command side's
    ``services.command_api.erasure.erase_address`` also clears stored answers naming it.)"""
    erased = await erase_message_keys(conn, [address_hash(email)])
    await drop_attachments(conn, message_ids=erased)
    return len(erased)
