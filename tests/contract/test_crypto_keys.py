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
    create_keys,
    decrypt_value,
    encrypt_value,
    ensure_key,
    field_aad,
    is_shredded,
    load_keys,
    shred,
)

# The session database is shared with tests creating subscribers: the ids here are far above
# any that eventlog.subscriber_id_seq hands out, so no subscriber finds a key (or an erasure).


async def connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


async def test_ensure_creates_one_key_and_returns_it_again(database_url: str) -> None:
    async with await connect(database_url) as conn:
        key = await ensure_key(conn, 9_000_001_001)
        assert len(key) == 32
        assert await ensure_key(conn, 9_000_001_001) == key
        assert await load_keys(conn, [9_000_001_001, 9_000_001_002]) == {9_000_001_001: key}


async def test_concurrent_ensures_agree_on_one_key(database_url: str) -> None:
    async def ensure_in_transaction() -> bytes:
        async with await connect(database_url) as conn, conn.transaction():
            return await ensure_key(conn, 9_000_001_101)

    keys = await asyncio.gather(*(ensure_in_transaction() for _ in range(5)))
    assert len(set(keys)) == 1


async def test_key_created_in_a_rolled_back_transaction_is_gone(database_url: str) -> None:
    async with await connect(database_url) as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await ensure_key(conn, 9_000_001_201)
                raise RuntimeError("command failed")
        assert await load_keys(conn, [9_000_001_201]) == {}


async def test_shred_erases_personal_data_for_good(database_url: str) -> None:
    async with await connect(database_url) as conn:
        key = await ensure_key(conn, 9_000_001_301)
        aad = field_aad(9_000_001_301, "email")
        token = encrypt_value(key, "ada@example.com", aad)
        async with conn.transaction():
            assert await shred(conn, 9_000_001_301) is True
        assert await is_shredded(conn, 9_000_001_301)
        keys = await load_keys(conn, [9_000_001_301])
        assert keys == {}
        assert decrypt_value(keys.get(9_000_001_301), token, aad) == REDACTED_TEXT
        assert await shred(conn, 9_000_001_301) is False
        with pytest.raises(SubscriberErased):
            await ensure_key(conn, 9_000_001_301)


async def test_master_key_wraps_stored_keys(database_url: str) -> None:
    master = os.urandom(32)
    async with await connect(database_url) as conn:
        key = await ensure_key(conn, 9_000_001_401, master_key=master)
        cur = await conn.execute(
            "SELECT data_key FROM eventlog.subscriber_keys WHERE subscriber_id = 9000001401"
        )
        row = await cur.fetchone()
        assert row is not None and key not in bytes(row[0])
        assert await load_keys(conn, [9_000_001_401], master_key=master) == {9_000_001_401: key}
        assert await ensure_key(conn, 9_000_001_401, master_key=master) == key
        with pytest.raises(KeyUnavailable):
            await load_keys(conn, [9_000_001_401])
        with pytest.raises(KeyUnavailable):
            await load_keys(conn, [9_000_001_401], master_key=os.urandom(32))
        # Keys stored before a master key was configured still load.
        plain = await ensure_key(conn, 9_000_001_402)
        assert await load_keys(conn, [9_000_001_402], master_key=master) == {9_000_001_402: plain}


async def test_create_keys_stores_a_batch_of_fresh_keys(database_url: str) -> None:
    master = os.urandom(32)
    ids = [9_000_002_001, 9_000_002_002, 9_000_002_003]
    async with await connect(database_url) as conn:
        keys = await create_keys(conn, ids, master_key=master)
        assert sorted(keys) == ids and len(set(keys.values())) == 3
        assert await load_keys(conn, ids, master_key=master) == keys
        await shred(conn, ids[0])
        with pytest.raises(SubscriberErased):
            await create_keys(conn, [ids[0]], master_key=master)
        with pytest.raises(SubscriberErased):  # a key exists already: never replaced
            await create_keys(conn, [9_000_002_004, ids[1]], master_key=master)
        assert await load_keys(conn, ids[1:], master_key=master) == {
            i: keys[i] for i in ids[1:]}
