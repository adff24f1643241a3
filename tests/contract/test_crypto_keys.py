"""The subscriber key table: keys are created once, loaded in bulk, and shredding destroys them
for good, so every token of an erased subscriber reads as a redaction marker."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import psycopg
import pytest

from events.crypto import (
    REDACTED_TEXT,
    KeyUnavailable,
    SubscriberErased,
    decrypt_value,
    encrypt_value,
    ensure_key,
    field_aad,
    is_shredded,
    load_keys,
    shred,
)


async def connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


async def test_ensure_creates_one_key_and_returns_it_again(database_url: str) -> None:
    async with await connect(database_url) as conn:
        key = await ensure_key(conn, 1001)
        assert len(key) == 32
        assert await ensure_key(conn, 1001) == key
        assert await load_keys(conn, [1001, 1002]) == {1001: key}


async def test_concurrent_ensures_agree_on_one_key(database_url: str) -> None:
    async def ensure_in_transaction() -> bytes:
        async with await connect(database_url) as conn, conn.transaction():
            return await ensure_key(conn, 1101)

    keys = await asyncio.gather(*(ensure_in_transaction() for _ in range(5)))
    assert len(set(keys)) == 1


async def test_key_created_in_a_rolled_back_transaction_is_gone(database_url: str) -> None:
    async with await connect(database_url) as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await ensure_key(conn, 1201)
                raise RuntimeError("command failed")
        assert await load_keys(conn, [1201]) == {}


async def test_shred_erases_personal_data_for_good(database_url: str) -> None:
    async with await connect(database_url) as conn:
        key = await ensure_key(conn, 1301)
        aad = field_aad(1301, "email")
        token = encrypt_value(key, "ada@example.com", aad)
        async with conn.transaction():
            assert await shred(conn, 1301) is True
        assert await is_shredded(conn, 1301)
        keys = await load_keys(conn, [1301])
        assert keys == {}
        assert decrypt_value(keys.get(1301), token, aad) == REDACTED_TEXT
        assert await shred(conn, 1301) is False
        with pytest.raises(SubscriberErased):
            await ensure_key(conn, 1301)


async def test_master_key_wraps_stored_keys(database_url: str) -> None:
    master = os.urandom(32)
    async with await connect(database_url) as conn:
        key = await ensure_key(conn, 1401, master_key=master)
        cur = await conn.execute(
            "SELECT data_key FROM eventlog.subscriber_keys WHERE subscriber_id = 1401"
        )
        row = await cur.fetchone()
        assert row is not None and key not in bytes(row[0])
        assert await load_keys(conn, [1401], master_key=master) == {1401: key}
        assert await ensure_key(conn, 1401, master_key=master) == key
        with pytest.raises(KeyUnavailable):
            await load_keys(conn, [1401])
        with pytest.raises(KeyUnavailable):
            await load_keys(conn, [1401], master_key=os.urandom(32))
        # Keys stored before a master key was configured still load.
        plain = await ensure_key(conn, 1402)
        assert await load_keys(conn, [1402], master_key=master) == {1402: plain}
