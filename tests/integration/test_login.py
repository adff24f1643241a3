"""Logins for people through HTTP: /admin/login, sessions for API calls, logout, throttling,
CSRF, revocation (docs/logins.md)."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar
from psycopg.rows import tuple_row

from kernel.settings import Settings
from postlog.app import create_app
from services.auth.passwords import hash_password_scrypt
from services.runtime import Runtime, open_runtime
from tests.integration.test_login_helpers import (
    ORIGIN,
    SAME_ORIGIN,
    browser,
    create_person,
    fresh_address,
    logged_in,
    login_form,
    post_login,
    unique,
)
from tests.integration.users_roles_support import create_api_user, create_role

JSON = {"Accept": "application/json"}


async def _sessions_of(runtime: Runtime, user_id: int) -> int:
    async with runtime.pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT count(*) FROM eventlog.sessions WHERE user_id = %s", (user_id,))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_password_login_gives_a_session_that_authenticates_api_calls(
        app: Litestar, api: httpx.AsyncClient, runtime: Runtime) -> None:
    role = await create_role(api, "lists:get_all", "lists:manage_all")
    person = await create_person(api, role_id=role)
    async with browser(app) as client:
        r = await post_login(client, person["username"], person["password"],
                             next_uri="/admin/lists")
        assert r.status_code == 302, r.text
        assert r.headers["location"] == "/admin/lists"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("session=") and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        token = client.cookies["session"]
        profile = await client.get("/api/profile")
        assert profile.status_code == 200, profile.text
        assert profile.json()["data"]["username"] == person["username"]
        # A state-changing call from the admin's own pages, with the session alone.
        made = await client.post("/api/lists", json={"name": unique("list")},
                                 headers=SAME_ORIGIN)
        assert made.status_code == 200, made.text
        # The role still applies to a session: no users:get here.
        assert (await client.get("/api/users")).status_code == 403
    # The log records the login, with no session or address in it.
    async with runtime.pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT data::text, metadata->>'actor' FROM eventlog.events"
            " WHERE stream_id = %s AND type = 'user.logged_in'", (f"user-{person['id']}",))
        rows = await cur.fetchall()
    assert len(rows) == 1 and rows[0][1] == person["username"]
    assert token not in rows[0][0]


async def test_next_is_kept_on_this_site(app: Litestar, api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    async with browser(app) as client:
        r = await post_login(client, person["username"], person["password"],
                             next_uri="https://evil.example/phish")
        assert r.status_code == 302 and r.headers["location"] == "/admin"


async def test_logout_ends_the_session_in_every_process(
        app: Litestar, api: httpx.AsyncClient, runtime: Runtime, settings: Settings) -> None:
    person = await create_person(api)
    async with logged_in(app, person) as client, open_runtime(settings) as other_runtime:
        token = client.cookies["session"]
        # Another process: its own pools over the same database.
        other = create_app(other_runtime, parts=("query",))
        other.state.runtime = other_runtime  # what its lifespan sets; nothing else is used
        async with browser(other) as other_client:
            other_client.cookies.set("session", token)
            assert (await other_client.get("/api/profile")).status_code == 200
            r = await client.post("/api/logout", headers=SAME_ORIGIN)
            assert r.status_code == 200 and r.json() == {"data": True}
            assert "Max-Age=0" in r.headers["set-cookie"]
            refused = await other_client.get("/api/profile")
            assert refused.status_code == 403
            assert refused.json() == {"message": "invalid session"}
    async with browser(app) as replay:
        replay.cookies.set("session", token)
        assert (await replay.get("/api/profile")).status_code == 403
    assert await _sessions_of(runtime, int(person["id"])) == 0


async def test_wrong_passwords_and_unknown_users_are_refused(
        app: Litestar, api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    async with browser(app) as client:
        r = await post_login(client, person["username"], person["password"] + "x")
        assert r.status_code == 403
        assert "Invalid login or password" in r.text and "<form" in r.text
        assert "session" not in client.cookies
        r = await post_login(client, unique("nobody"), "whatever-password",
                             headers={**SAME_ORIGIN, **JSON})
        assert r.status_code == 403
        assert r.json() == {"message": "Invalid login or password"}
        r = await post_login(client, person["username"], "short", headers={**SAME_ORIGIN, **JSON})
        assert r.status_code == 400 and r.json() == {"message": "Invalid fields: password"}
        assert (await client.get("/api/profile")).status_code == 403


async def test_an_api_user_cannot_log_in_with_a_password(
        app: Litestar, api: httpx.AsyncClient) -> None:
    bot = await create_api_user(api, await create_role(api, "lists:get_all"))
    async with browser(app) as client:
        r = await post_login(client, bot["username"], bot["password"],
                             headers={**SAME_ORIGIN, **JSON})
        assert r.status_code == 403 and r.json() == {"message": "Invalid login or password"}
        assert "session" not in client.cookies


async def test_repeated_failures_throttle_the_username_then_the_address(
        app: Litestar, api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    async with browser(app) as client:
        for _ in range(5):
            r = await post_login(client, person["username"], "wrong-password",
                                 headers={**SAME_ORIGIN, **JSON})
            assert r.status_code == 403
        # Locked: even the right password is refused, with listmonk's error shape.
        r = await post_login(client, person["username"], person["password"],
                             headers={**SAME_ORIGIN, **JSON})
        assert r.status_code == 429, r.text
        assert r.json()["message"].startswith("Too many failed login attempts")
        assert 0 < int(r.headers["retry-after"]) <= 15 * 60
        assert "session" not in client.cookies
        # A browser sees the form again with the reason.
        r = await post_login(client, person["username"], person["password"])
        assert r.status_code == 429 and "Too many failed login attempts" in r.text
    # The lock is on the username: from another address it holds too.
    async with browser(app) as elsewhere:
        r = await post_login(elsewhere, person["username"], person["password"])
        assert r.status_code == 429

    # One address guessing at many usernames is stopped after 20 failures.
    address = fresh_address()
    other = await create_person(api)
    async with browser(app, address) as guesser:
        nonce = await login_form(guesser)
        for _ in range(20):
            r = await post_login(guesser, unique("guess"), "wrong-password", nonce=nonce,
                                 headers={**SAME_ORIGIN, **JSON})
            assert r.status_code == 403
        r = await post_login(guesser, other["username"], other["password"], nonce=nonce,
                             headers={**SAME_ORIGIN, **JSON})
        assert r.status_code == 429
    async with browser(app) as honest:  # the same person from another address logs in
        assert (await post_login(honest, other["username"], other["password"])).status_code \
            == 302


async def test_cross_site_login_posts_are_refused(app: Litestar, api: httpx.AsyncClient
                                                  ) -> None:
    person = await create_person(api)
    creds = (person["username"], person["password"])
    async with browser(app) as client:
        # No nonce (a form on another site cannot read it).
        r = await client.post("/admin/login", data={"username": creds[0], "password": creds[1],
                                                    "nonce": "guessed"}, headers=SAME_ORIGIN)
        assert r.status_code == 403 and "Invalid auth request" in r.text
        # The right nonce, but the browser says the form was on another site.
        for headers in ({"Origin": "https://evil.example", **JSON},
                        {"Sec-Fetch-Site": "cross-site", "Origin": ORIGIN, **JSON},
                        {"Origin": "null", **JSON}):
            r = await post_login(client, *creds, headers=headers)
            assert r.status_code == 403 and r.json() == {"message": "Invalid auth request"}
        assert "session" not in client.cookies
        assert (await post_login(client, *creds)).status_code == 302


async def test_cookie_authenticated_changes_need_a_same_origin_request(
        app: Litestar, api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    async with logged_in(app, person) as client:
        name = unique("csrf")
        for headers in ({"Origin": "https://evil.example"},
                        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
                        {"Sec-Fetch-Site": "same-site"}):
            r = await client.post("/api/lists", json={"name": name}, headers=headers)
            assert r.status_code == 403 and r.json() == {"message": "Invalid auth request"}
        r = await client.post("/api/logout", headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
        lists = await api.get("/api/lists", params={"query": name})
        assert lists.json()["data"]["total"] == 0
        # Reads are not state-changing; the session still works.
        assert (await client.get("/api/profile",
                                 headers={"Sec-Fetch-Site": "cross-site"})).status_code == 200
        r = await client.post("/api/lists", json={"name": name}, headers=SAME_ORIGIN)
        assert r.status_code == 200, r.text


async def test_a_disabled_users_sessions_stop_at_once(
        app: Litestar, api: httpx.AsyncClient, runtime: Runtime) -> None:
    person = await create_person(api)
    async with logged_in(app, person) as client:
        assert (await client.get("/api/profile")).status_code == 200
        body = {"username": person["username"], "email": person["email"],
                "name": person["name"], "type": "user", "password_login": True,
                "user_role_id": 1}
        r = await api.put(f"/api/users/{person['id']}", json={**body, "status": "disabled"})
        assert r.status_code == 200, r.text
        r = await client.get("/api/profile")
        assert r.status_code == 403 and r.json() == {"message": "invalid session"}
        # Enabling the user again does not bring the old session back.
        r = await api.put(f"/api/users/{person['id']}", json={**body, "status": "enabled"})
        assert r.status_code == 200, r.text
        assert (await client.get("/api/profile")).status_code == 403
        assert await _sessions_of(runtime, int(person["id"])) == 0


async def test_a_new_password_or_deletion_ends_the_users_sessions(
        app: Litestar, api: httpx.AsyncClient) -> None:
    person = await create_person(api)
    async with logged_in(app, person) as first, logged_in(app, person) as second:
        r = await first.put("/api/profile", json={"name": "New", "password": "another-pass"},
                            headers=SAME_ORIGIN)
        assert r.status_code == 200, r.text
        assert (await second.get("/api/profile")).status_code == 403
        assert (await first.get("/api/profile")).status_code == 403
    updated = {**person, "password": "another-pass"}
    async with logged_in(app, updated) as third:
        assert (await api.delete(f"/api/users/{person['id']}")).status_code == 200
        assert (await third.get("/api/profile")).status_code == 403


async def test_a_login_upgrades_an_scrypt_hash_to_argon2(
        app: Litestar, api: httpx.AsyncClient, runtime: Runtime) -> None:
    person = await create_person(api)
    async with runtime.pool.connection() as conn:
        await conn.execute("UPDATE eventlog.api_users SET password_hash = %s WHERE id = %s",
                           (hash_password_scrypt(person["password"]), person["id"]))
    async with logged_in(app, person) as client:
        async with runtime.pool.connection() as conn:
            cur = await conn.cursor(row_factory=tuple_row).execute(
                "SELECT password_hash FROM eventlog.api_users WHERE id = %s", (person["id"],))
            row: Any = await cur.fetchone()
        assert str(row[0]).startswith("$argon2id$")
        # The upgrade kept the session it was made for.
        assert (await client.get("/api/profile")).status_code == 200
    async with logged_in(app, person) as again:  # and the new hash verifies
        assert (await again.get("/api/profile")).status_code == 200
