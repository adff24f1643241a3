"""Helpers for the users, roles and permission tests: API users with given rights."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from litestar import Litestar


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_role(api: httpx.AsyncClient, *permissions: str) -> int:
    r = await api.post("/api/roles/users", json={"name": unique("role"),
                                                 "permissions": list(permissions)})
    assert r.status_code == 200, r.text
    return int(r.json()["data"]["id"])


async def create_list_role(api: httpx.AsyncClient, grants: dict[int, list[str]]) -> int:
    r = await api.post("/api/roles/lists", json={"name": unique("lrole"), "lists": [
        {"id": lid, "permissions": perms} for lid, perms in grants.items()]})
    assert r.status_code == 200, r.text
    return int(r.json()["data"]["id"])


async def create_api_user(api: httpx.AsyncClient, role_id: int,
                          list_role_id: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"username": unique("bot"), "type": "api", "status": "enabled",
                            "user_role_id": role_id}
    if list_role_id is not None:
        body["list_role_id"] = list_role_id
    r = await api.post("/api/users", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def client_as(app: Litestar, user: dict[str, Any]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver",
                             auth=httpx.BasicAuth(user["username"], user["password"]))
