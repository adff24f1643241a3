"""Helpers of the login and 2FA tests: people with passwords, and browsers (an httpx client
with a cookie jar, its own client address, and a browser's same-origin headers)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar

ORIGIN = "http://testserver"
SAME_ORIGIN = {"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
_NONCE = re.compile(r'name="nonce" value="([^"]+)"')


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def fresh_address() -> str:
    """A client address of the test's own, so throttling counts are the test's alone."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


def browser(app: Litestar, address: str | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address or fresh_address(), 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN, follow_redirects=False)


async def create_person(api: httpx.AsyncClient, *, role_id: int = 1,
                        password: str | None = None) -> dict[str, Any]:
    """A user of type ``user`` with password login; its ``password`` is in the result."""
    name = unique("person")
    secret = password or f"pw-{uuid.uuid4().hex[:12]}"
    r = await api.post("/api/users", json={
        "username": name, "email": f"{name}@example.com", "name": name, "type": "user",
        "status": "enabled", "password_login": True, "password": secret,
        "user_role_id": role_id})
    assert r.status_code == 200, r.text
    return {**r.json()["data"], "password": secret}


async def login_form(client: httpx.AsyncClient, next_uri: str = "/admin/lists") -> str:
    """GET the login page: its nonce (the cookie lands in the client's jar)."""
    r = await client.get("/admin/login", params={"next": next_uri})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    found = _NONCE.search(r.text)
    assert found is not None and client.cookies.get("nonce") == found.group(1)
    return found.group(1)


async def post_login(client: httpx.AsyncClient, username: str, password: str, *,
                     next_uri: str = "/admin/lists", headers: dict[str, str] | None = None,
                     nonce: str | None = None) -> httpx.Response:
    """The login form as a browser posts it (after loading the page)."""
    if nonce is None:
        nonce = await login_form(client, next_uri)
    return await client.post("/admin/login", data={
        "username": username, "password": password, "nonce": nonce, "next": next_uri},
        headers=SAME_ORIGIN if headers is None else headers)


@asynccontextmanager
async def logged_in(app: Litestar, user: dict[str, Any],
                    address: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A browser with a login session of ``user`` (no TOTP)."""
    async with browser(app, address) as client:
        r = await post_login(client, user["username"], user["password"])
        assert r.status_code == 302, r.text
        assert client.cookies.get("session")
        yield client
