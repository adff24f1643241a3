"""TOTP two-factor login through HTTP: set-up (secret and QR), a login with password and
TOTP, wrong and replayed codes, throttling, turning it off (docs/logins.md)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from litestar import Litestar
from psycopg.rows import tuple_row

from services.auth.totp import code_at
from services.runtime import Runtime
from tests.integration.sender_support import eventually
from tests.integration.test_login_helpers import (
    SAME_ORIGIN,
    browser,
    create_person,
    logged_in,
    post_login,
)

JSON = {"Accept": "application/json"}


def _now() -> datetime:
    return datetime.now(UTC)


async def _enable(client: httpx.AsyncClient, user_id: int) -> str:
    """Set TOTP up as the admin UI does; the secret."""
    r = await client.get(f"/api/users/{user_id}/twofa/totp")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    secret = data["secret"]
    assert base64.b64decode(data["qr"]).startswith(b"\x89PNG")
    r = await client.put(f"/api/users/{user_id}/twofa",
                         json={"secret": secret, "code": code_at(secret, _now())},
                         headers=SAME_ORIGIN)
    assert r.status_code == 200 and r.json() == {"data": True}, r.text
    return str(secret)


def _pending(response: httpx.Response) -> tuple[str, str]:
    """The 2FA page's token and next from a login's redirect."""
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == "/admin/login/twofa"
    query = parse_qs(location.query)
    return query["token"][0], query["next"][0]


async def test_setting_totp_up_then_logging_in_with_password_and_code(
        app: Litestar, api: httpx.AsyncClient, runtime: Runtime) -> None:
    person = await create_person(api)
    async with logged_in(app, person) as client:
        # A wrong code does not turn it on.
        r = await client.get(f"/api/users/{person['id']}/twofa/totp")
        secret = r.json()["data"]["secret"]
        wrong = f"{(int(code_at(secret, _now())) + 1) % 1_000_000:06d}"
        r = await client.put(f"/api/users/{person['id']}/twofa",
                             json={"secret": secret, "code": wrong}, headers=SAME_ORIGIN)
        assert r.status_code == 400 and r.json() == {"message": "Invalid TOTP code."}
        secret = await _enable(client, int(person["id"]))
        r = await client.get(f"/api/users/{person['id']}/twofa/totp")
        assert r.status_code == 400
        assert r.json() == {"message": "Two-factor authentication is already enabled."}
    # The secret is kept sealed: neither the credential index nor the log holds it in clear.
    async with runtime.pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT twofa_type, twofa_key FROM eventlog.api_users WHERE id = %s",
            (person["id"],))
        row: Any = await cur.fetchone()
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT type, data::text FROM eventlog.events WHERE stream_id = %s ORDER BY version",
            (f"user-{person['id']}",))
        events = await cur.fetchall()
    assert row[0] == "totp" and secret not in row[1]
    assert "user.twofa_enabled" in [e[0] for e in events]
    assert all(secret not in e[1] for e in events)

    async with browser(app) as client:
        r = await post_login(client, person["username"], person["password"],
                             next_uri="/admin/campaigns")
        token, next_uri = _pending(r)
        assert next_uri == "/admin/campaigns"
        assert "session" not in client.cookies
        # The pending step is no session.
        assert (await client.get("/api/profile")).status_code == 403
        page = await client.get("/admin/login/twofa", params={"token": token, "next": next_uri})
        assert page.status_code == 200 and 'name="totp_code"' in page.text
        assert re.search(r'name="token" value="' + re.escape(token), page.text)
        # A wrong code: the page again, no session.
        r = await client.post("/admin/login/twofa", data={
            "token": token, "totp_code": "000000" if code_at(secret, _now()) != "000000"
            else "111111", "next": next_uri}, headers=SAME_ORIGIN)
        assert r.status_code == 403 and "Invalid value" in r.text
        assert "session" not in client.cookies
        # The next step's code (the current one was used to turn TOTP on).
        code = code_at(secret, _now() + timedelta(seconds=30))
        r = await client.post("/admin/login/twofa", data={
            "token": token, "totp_code": code, "next": next_uri}, headers=SAME_ORIGIN)
        assert r.status_code == 302, r.text
        assert r.headers["location"] == "/admin/campaigns"
        assert client.cookies.get("session")
        assert (await client.get("/api/profile")).json()["data"]["username"] \
            == person["username"]
        # The token was used up.
        page = await client.get("/admin/login/twofa", params={"token": token})
        assert page.status_code == 302 and page.headers["location"] == "/admin"

    # listmonk's user object says so: 2FA on, and when the person last logged in.
    async def shown() -> bool:
        user = (await api.get(f"/api/users/{person['id']}")).json()["data"]
        return bool(user["twofa_type"] == "totp" and user["loggedin_at"])

    await eventually(shown)

    # The same code cannot be replayed for another login.
    async with browser(app) as client:
        token, _ = _pending(await post_login(client, person["username"], person["password"]))
        r = await client.post("/admin/login/twofa", data={"token": token, "totp_code": code},
                              headers={**SAME_ORIGIN, **JSON})
        assert r.status_code == 403 and r.json() == {"message": "Invalid value"}
        assert "session" not in client.cookies


async def test_wrong_totp_codes_are_throttled(app: Litestar, api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    async with logged_in(app, person) as client:
        secret = await _enable(client, int(person["id"]))
    valid = {code_at(secret, _now() + timedelta(seconds=s)) for s in (-30, 0, 30, 60)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    async with browser(app) as client:
        token, _ = _pending(await post_login(client, person["username"], person["password"]))
        for _ in range(5):
            r = await client.post("/admin/login/twofa", data={"token": token,
                                                              "totp_code": wrong},
                                  headers={**SAME_ORIGIN, **JSON})
            assert r.status_code == 403
        r = await client.post("/admin/login/twofa", data={
            "token": token, "totp_code": code_at(secret, _now() + timedelta(seconds=30))},
            headers={**SAME_ORIGIN, **JSON})
        assert r.status_code == 429 and "Too many failed login attempts" in r.json()["message"]
        assert "session" not in client.cookies


async def test_turning_totp_off_needs_the_password(app: Litestar, api: httpx.AsyncClient
                                                   ) -> None:
    person = await create_person(api)
    async with logged_in(app, person) as client:
        r = await client.request("DELETE", f"/api/users/{person['id']}/twofa",
                                 data={"password": person["password"]}, headers=SAME_ORIGIN)
        assert r.status_code == 400  # not on
        secret = await _enable(client, int(person["id"]))
        r = await client.request("DELETE", f"/api/users/{person['id']}/twofa",
                                 data={"password": "not-the-password"}, headers=SAME_ORIGIN)
        assert r.status_code == 403 and r.json() == {"message": "Invalid password"}
        r = await client.request("DELETE", f"/api/users/{person['id']}/twofa",
                                 data={"password": person["password"]}, headers=SAME_ORIGIN)
        assert r.status_code == 200 and r.json() == {"data": True}
    assert secret
    async with browser(app) as client:  # a password is enough again
        r = await post_login(client, person["username"], person["password"])
        assert r.status_code == 302 and r.headers["location"] == "/admin/lists"
        assert client.cookies.get("session")


async def test_cross_site_or_api_token_callers_cannot_change_2fa(
        app: Litestar, api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    async with logged_in(app, person) as client:
        r = await client.put(f"/api/users/{person['id']}/twofa",
                             json={"secret": "JBSWY3DPEHPK3PXP", "code": "123456"},
                             headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and r.json() == {"message": "Invalid auth request"}
    # The environment's admin (no stored user) has no 2FA to set up.
    r = await api.get("/api/users/1/twofa/totp")
    assert r.status_code == 400 and r.json() == {"message": "That feature is not available."}
