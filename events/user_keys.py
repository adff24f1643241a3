"""Crypto-shredding of users' personal data (e-mail, name), as ``events/crypto.py`` does it
for subscribers: one AES-GCM data key per user in ``eventlog.user_keys`` (wrapped with
``POSTLOG_MASTER_KEY`` when one is set), tokens sealed with the aad ``user:<id>:<field>``.
Deleting a user destroys its key in the deleting transaction, so its e-mail and name in the
log, in exports and on NATS read as ``[erased]`` from then on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg.rows import tuple_row

from events.crypto import (
    KEY_BYTES,
    NONCE_BYTES,
    KeyUnavailable,
    decrypt_value,
    encrypt_value,
    new_data_key,
)

_WRAPPED = b"w1"


def user_aad(user_id: int, field: str) -> bytes:
    return f"user:{user_id}:{field}".encode()


def seal(key: bytes, user_id: int, field: str, value: str) -> str:
    return encrypt_value(key, value, user_aad(user_id, field))


def unseal(key: bytes | None, user_id: int, field: str, token: str) -> str:
    """The sealed text; ``[erased]`` once the user's key is gone; ``""`` stays ``""``."""
    if not token:
        return ""
    return str(decrypt_value(key, token, user_aad(user_id, field)))


def _wrap(master_key: bytes | None, user_id: int, key: bytes) -> bytes:
    if master_key is None:
        return key
    nonce = os.urandom(NONCE_BYTES)
    return _WRAPPED + nonce + AESGCM(master_key).encrypt(nonce, key, user_aad(user_id, "key"))


def _unwrap(master_key: bytes | None, user_id: int, stored: bytes) -> bytes:
    if len(stored) == KEY_BYTES:
        return stored
    if master_key is None or not stored.startswith(_WRAPPED):
        raise KeyUnavailable(f"data key of user {user_id} is wrapped; set POSTLOG_MASTER_KEY")
    body = stored[len(_WRAPPED):]
    try:
        return AESGCM(master_key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:],
                                          user_aad(user_id, "key"))
    except InvalidTag as exc:
        raise KeyUnavailable("the master key does not unwrap this data key") from exc


async def user_key(conn: psycopg.AsyncConnection[Any], user_id: int, *,
                   master_key: bytes | None = None) -> bytes:
    """The user's data key, created if missing (in the caller's transaction)."""
    fresh = new_data_key()
    await conn.execute(
        "INSERT INTO eventlog.user_keys (user_id, data_key) VALUES (%s, %s)"
        " ON CONFLICT (user_id) DO NOTHING", (user_id, _wrap(master_key, user_id, fresh)))
    keys = await load_user_keys(conn, [user_id], master_key=master_key)
    return keys[user_id]


async def load_user_keys(conn: psycopg.AsyncConnection[Any], user_ids: Iterable[int], *,
                         master_key: bytes | None = None) -> dict[int, bytes]:
    """Data keys by user id; deleted users are absent."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT user_id, data_key FROM eventlog.user_keys WHERE user_id = ANY(%s)", (ids,))
    return {int(uid): _unwrap(master_key, int(uid), bytes(stored))
            for uid, stored in await cur.fetchall()}


async def shred_user(conn: psycopg.AsyncConnection[Any], user_id: int) -> None:
    await conn.execute("DELETE FROM eventlog.user_keys WHERE user_id = %s", (user_id,))
