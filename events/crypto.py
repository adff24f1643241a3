"""Crypto-shredding of subscribers' personal data (e-mail, name, attribs).

Each subscriber has a 256-bit AES-GCM data key in ``eventlog.subscriber_keys``. Events carry the
personal fields as tokens ``enc:v1:<kind>:<base64url(nonce | ciphertext+tag)>`` where ``kind`` is
``s`` (string), ``o`` (object/dict) or ``n`` (null). Erasing a subscriber (``shred``) deletes the
key and records the id in ``eventlog.shredded_subscribers``: the log keeps its shape, but nothing
in Postgres or on NATS can be read back any more.

Decrypting without a key (shredded) gives a redaction marker of the token's kind, so readers keep
working: ``REDACTED_TEXT`` (``"[erased]"``) for strings, ``{}`` for objects, ``None`` for nulls.
A wrong key or a tampered token raises ``DecryptionError`` instead: that is a bug, not an erasure.

The additional authenticated data (``aad``) binds a token to its subscriber and field (see
``field_aad``), so a token copied onto another subscriber or field does not decrypt.

Optionally, data keys are stored wrapped (AES-GCM) with a master key, ``POSTLOG_MASTER_KEY``
(base64 of 32 bytes, see ``master_key_from``), so a copy of the key table alone is useless.
Unwrapped keys written before a master key was configured still load.

The key functions take the caller's connection and run inside its transaction, so a key is
created (or destroyed) atomically with the events that need it.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable
from typing import Any

import msgspec
import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg.rows import tuple_row
from pydantic import SecretStr

PersonalValue = str | dict[str, Any] | None

TOKEN_PREFIX = "enc:v1:"
REDACTED_TEXT = "[erased]"
KEY_BYTES = 32
NONCE_BYTES = 12
_WRAPPED_PREFIX = b"w1"


class DecryptionError(Exception):
    """A token failed authentication: wrong key, wrong aad, or tampered/corrupt data."""


class KeyUnavailable(Exception):
    """A stored data key is wrapped but no (or the wrong) master key was given."""


class SubscriberErased(Exception):
    """The subscriber was crypto-shredded; no new personal data may be written for it."""

    def __init__(self, subscriber_id: int) -> None:
        super().__init__(f"subscriber {subscriber_id} was erased")
        self.subscriber_id = subscriber_id


def field_aad(subscriber_id: int, field: str) -> bytes:
    """The aad binding a token to one subscriber's field (e.g. ``subscriber:42:email``)."""
    return f"subscriber:{subscriber_id}:{field}".encode()


def master_key_from(setting: str | SecretStr | None) -> bytes | None:
    """Decode ``settings.master_key`` (POSTLOG_MASTER_KEY, base64 of 32 bytes); None if unset."""
    encoded = setting.get_secret_value() if isinstance(setting, SecretStr) else setting
    if not encoded:
        return None
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise ValueError("POSTLOG_MASTER_KEY is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise ValueError("POSTLOG_MASTER_KEY must decode to 32 bytes")
    return key


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


def encrypt_value(key: bytes, value: PersonalValue, aad: bytes) -> str:
    """A compact token holding ``value`` (a string, a dict or None) sealed with ``key``."""
    if isinstance(value, str):
        kind = "s"
    elif isinstance(value, dict):
        kind = "o"
    elif value is None:
        kind = "n"
    else:
        raise TypeError(f"cannot encrypt a {type(value).__name__}")
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, msgspec.json.encode(value), kind.encode() + b"|" + aad)
    return f"{TOKEN_PREFIX}{kind}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def decrypt_value(key: bytes | AESGCM | None, token: Any, aad: bytes) -> Any:
    """The value sealed in ``token``; its redaction marker when ``key`` is None (erased).

    A value that is not a token is returned unchanged (data that was never encrypted).
    ``key`` may be an ``AESGCM`` built from the key, to open several tokens with one object.
    """
    if not is_encrypted(token):
        return token
    kind, _, body = token[len(TOKEN_PREFIX):].partition(":")
    if kind not in ("s", "o", "n") or not body:
        raise DecryptionError("malformed token")
    if key is None:
        return redacted(kind)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        aead = key if isinstance(key, AESGCM) else AESGCM(key)
        plain = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                    kind.encode() + b"|" + aad)
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise DecryptionError("token does not decrypt with this key") from exc
    return msgspec.json.decode(plain)


def redacted(kind: str) -> Any:
    """What an erased value of ``kind`` reads as: ``"[erased]"``, ``{}`` or ``None``."""
    return {"s": REDACTED_TEXT, "o": {}, "n": None}[kind]


def _wrap(master_key: bytes, subscriber_id: int, data_key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    aad = field_aad(subscriber_id, "data_key")
    return _WRAPPED_PREFIX + nonce + AESGCM(master_key).encrypt(nonce, data_key, aad)


def _unwrap(master_key: bytes | None, subscriber_id: int, stored: bytes) -> bytes:
    if len(stored) == KEY_BYTES:
        return stored
    if not stored.startswith(_WRAPPED_PREFIX):
        raise KeyUnavailable(f"data key of subscriber {subscriber_id} has an unknown format")
    if master_key is None:
        raise KeyUnavailable("data keys are wrapped; set POSTLOG_MASTER_KEY")
    body = stored[len(_WRAPPED_PREFIX):]
    try:
        return AESGCM(master_key).decrypt(
            body[:NONCE_BYTES], body[NONCE_BYTES:], field_aad(subscriber_id, "data_key")
        )
    except InvalidTag as exc:
        raise KeyUnavailable("the master key does not unwrap this data key") from exc


async def ensure_key(
    conn: psycopg.AsyncConnection[Any], subscriber_id: int, *, master_key: bytes | None = None
) -> bytes:
    """The subscriber's data key, created if missing; raises ``SubscriberErased`` once shredded.

    Safe under concurrency: two transactions creating the same key end up with the same one.
    """
    fresh = new_data_key()
    stored = _wrap(master_key, subscriber_id, fresh) if master_key else fresh
    await conn.execute(
        "INSERT INTO eventlog.subscriber_keys (subscriber_id, data_key)"
        " SELECT %(id)s, %(key)s WHERE NOT EXISTS"
        " (SELECT 1 FROM eventlog.shredded_subscribers WHERE subscriber_id = %(id)s)"
        " ON CONFLICT (subscriber_id) DO NOTHING",
        {"id": subscriber_id, "key": stored},
    )
    keys = await load_keys(conn, [subscriber_id], master_key=master_key)
    if subscriber_id not in keys:
        raise SubscriberErased(subscriber_id)
    return keys[subscriber_id]


async def create_keys(
    conn: psycopg.AsyncConnection[Any],
    subscriber_ids: Iterable[int],
    *,
    master_key: bytes | None = None,
) -> dict[int, bytes]:
    """Fresh data keys for new subscribers (ids just taken from their sequence), stored with
    one statement: the bulk form of ``ensure_key`` for imports. Raises ``SubscriberErased``
    if one of the ids already had a key or was erased (never the case for a fresh id)."""
    keys = {sid: new_data_key() for sid in dict.fromkeys(subscriber_ids)}
    if not keys:
        return {}
    ids = list(keys)
    stored = [_wrap(master_key, sid, keys[sid]) if master_key else keys[sid] for sid in ids]
    cur = await conn.execute(
        "INSERT INTO eventlog.subscriber_keys (subscriber_id, data_key)"
        " SELECT k.id, k.key FROM unnest(%b::bigint[], %b::bytea[]) AS k(id, key)"
        " WHERE NOT EXISTS (SELECT 1 FROM eventlog.shredded_subscribers s"
        " WHERE s.subscriber_id = k.id)"
        " ON CONFLICT (subscriber_id) DO NOTHING",
        (ids, stored),
    )
    if cur.rowcount != len(ids):
        existing = await load_keys(conn, ids, master_key=master_key)
        clash = next(sid for sid in ids if existing.get(sid) != keys[sid])
        raise SubscriberErased(clash)
    return keys


async def load_keys(
    conn: psycopg.AsyncConnection[Any],
    subscriber_ids: Iterable[int],
    *,
    master_key: bytes | None = None,
) -> dict[int, bytes]:
    """Data keys by subscriber id; erased (or unknown) subscribers are absent from the result."""
    ids = sorted(set(subscriber_ids))
    if not ids:
        return {}
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT subscriber_id, data_key FROM eventlog.subscriber_keys"
        " WHERE subscriber_id = ANY(%s)",
        (ids,),
    )
    return {
        int(sid): _unwrap(master_key, int(sid), bytes(stored))
        for sid, stored in await cur.fetchall()
    }


async def shred(conn: psycopg.AsyncConnection[Any], subscriber_id: int) -> bool:
    """Destroy the subscriber's data key and remember the erasure; True if a key was destroyed.

    Idempotent. Once the caller's transaction commits, every token of this subscriber in the
    log and on NATS reads as its redaction marker.
    """
    return await shred_many(conn, [subscriber_id]) > 0


async def shred_many(conn: psycopg.AsyncConnection[Any], subscriber_ids: Iterable[int]) -> int:
    """``shred`` for many subscribers with two statements; how many keys were destroyed."""
    ids = sorted(set(subscriber_ids))
    if not ids:
        return 0
    cur = await conn.execute(
        "DELETE FROM eventlog.subscriber_keys WHERE subscriber_id = ANY(%s)", (ids,)
    )
    destroyed = cur.rowcount
    await conn.execute(
        "INSERT INTO eventlog.shredded_subscribers (subscriber_id)"
        " SELECT unnest(%s::bigint[]) ON CONFLICT (subscriber_id) DO NOTHING",
        (ids,),
    )
    return destroyed


async def is_shredded(conn: psycopg.AsyncConnection[Any], subscriber_id: int) -> bool:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT 1 FROM eventlog.shredded_subscribers WHERE subscriber_id = %s", (subscriber_id,)
    )
    return await cur.fetchone() is not None
