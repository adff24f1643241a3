"""Helpers for the Subscribers API tests: unique e-mails, lists, subscribers, raw reads."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from services.runtime import Runtime

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$")
SUBSCRIBER_KEYS = ["id", "created_at", "updated_at", "uuid", "email", "name", "attribs", "status",
                   "lists"]
SUBSCRIPTION_KEYS = ["subscription_status", "subscription_created_at",
                     "subscription_updated_at", "subscription_meta", "id", "uuid", "name", "type",
                     "optin", "status", "tags", "description", "created_at", "updated_at"]


def unique_email(prefix: str = "john") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@example.com"


async def make_list(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/lists", json={"name": f"l-{uuid.uuid4().hex[:8]}", **fields})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def get_list(api: httpx.AsyncClient, list_id: int) -> dict[str, Any]:
    response = await api.get(f"/api/lists/{list_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    fields.setdefault("email", unique_email())
    response = await api.post("/api/subscribers", json=fields)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def get(api: httpx.AsyncClient, subscriber_id: int) -> dict[str, Any]:
    response = await api.get(f"/api/subscribers/{subscriber_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def statuses(subscriber: dict[str, Any]) -> dict[int, str]:
    return {item["id"]: item["subscription_status"] for item in subscriber["lists"]}


async def scalar(runtime: Runtime, query: str, *params: Any) -> Any:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(query, params)
        row = await cur.fetchone()
    assert row is not None
    return row[0]


async def event_count(runtime: Runtime) -> int:
    return int(await scalar(runtime, "SELECT count(*) FROM eventlog.events"))


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
