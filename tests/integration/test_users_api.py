"""The users and roles APIs through HTTP with listmonk's shapes; a disabled or deleted user is
refused on its very next request; the log records who granted what."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar

from services.runtime import Runtime
from tests.integration.users_roles_support import (
    client_as,
    create_api_user,
    create_list_role,
    create_role,
    unique,
)

USER_KEYS = ["id", "created_at", "updated_at", "username", "password_login", "email", "name",
             "type", "status", "avatar", "twofa_type", "loggedin_at", "user_role", "list_role"]


async def test_user_crud_with_listmonk_shapes(api: httpx.AsyncClient) -> None:
    role = await create_role(api, "subscribers:get")
    name = unique("alice")
    r = await api.post("/api/users", json={
        "username": name, "email": f"{name}@Example.com", "name": "Alice", "type": "user",
        "status": "enabled", "password_login": True, "password": "correct-horse",
        "user_role_id": role})
    assert r.status_code == 200, r.text
    created = r.json()["data"]
    assert list(created) == USER_KEYS
    assert created["email"] == f"{name}@example.com"
    assert created["user_role"] == {"id": role, "name": created["user_role"]["name"],
                                    "permissions": ["subscribers:get"]}
    assert "password" not in created
    uid = created["id"]
    assert (await api.get(f"/api/users/{uid}")).json()["data"] == created
    assert uid in [u["id"] for u in (await api.get("/api/users")).json()["data"]]

    r = await api.put(f"/api/users/{uid}", json={
        "username": name, "email": f"{name}@example.com", "name": "Alice B", "type": "user",
        "status": "disabled", "password_login": True, "user_role_id": role})
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["name"], r.json()["data"]["status"]) == ("Alice B", "disabled")

    assert (await api.delete(f"/api/users/{uid}")).json() == {"data": True}
    assert (await api.get(f"/api/users/{uid}")).status_code == 404


async def test_a_persons_email_belongs_to_one_user(api: httpx.AsyncClient) -> None:
    """listmonk's users.email is unique: a second user with the same e-mail (any case) is a
    409, so is an edit to another user's e-mail; a deleted user's e-mail is free again."""
    role = await create_role(api)
    email = f"{unique('shared')}@example.com"

    def body(username: str, address: str) -> dict[str, Any]:
        return {"username": username, "email": address, "name": username, "type": "user",
                "status": "enabled", "password_login": True, "password": "long-enough-pw",
                "user_role_id": role}

    first = await api.post("/api/users", json=body(unique("first"), email))
    assert first.status_code == 200, first.text
    second_name = unique("second")
    clash = await api.post("/api/users", json=body(second_name, email.upper()))
    assert clash.status_code == 409 and clash.json() == {
        "message": "Another user has this e-mail."}
    second = await api.post("/api/users", json=body(second_name, f"{second_name}@example.com"))
    assert second.status_code == 200, second.text
    sid = second.json()["data"]["id"]
    moved = await api.put(f"/api/users/{sid}", json=body(second_name, email))
    assert moved.status_code == 409
    assert (await api.get(f"/api/users/{sid}")).json()["data"]["email"] \
        == f"{second_name}@example.com"
    assert (await api.delete(f"/api/users/{first.json()['data']['id']}")).status_code == 200
    moved = await api.put(f"/api/users/{sid}", json=body(second_name, email))
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["email"] == email


async def test_user_validation_as_listmonk(api: httpx.AsyncClient) -> None:
    role = await create_role(api)
    base = {"username": unique("bob"), "email": "bob@example.com", "type": "user",
            "status": "enabled", "password_login": True, "password": "long-enough",
            "user_role_id": role}
    cases: dict[str, dict[str, Any]] = {"username": {"username": "a b"}, "email": {"email": "nope"},
             "password": {"password": "short"}, "user_role_id": {"user_role_id": 999999}}
    for field, change in cases.items():
        r = await api.post("/api/users", json={**base, **change})
        assert (r.status_code, r.json()) == (400, {"message": f"Invalid fields: {field}"})


async def test_api_user_token_shown_once_and_works(app: Litestar, api: httpx.AsyncClient
                                                   ) -> None:
    role = await create_role(api, "lists:get_all")
    user = await create_api_user(api, role)
    assert len(user["password"]) == 48 and user["email"] is None
    again = (await api.get(f"/api/users/{user['id']}")).json()["data"]
    assert "password" not in again
    async with client_as(app, user) as client:
        assert (await client.get("/api/lists")).status_code == 200


async def test_disabled_and_deleted_users_are_refused_on_the_next_request(
        app: Litestar, api: httpx.AsyncClient) -> None:
    role = await create_role(api, "lists:get_all")
    user = await create_api_user(api, role)
    async with client_as(app, user) as client:
        assert (await client.get("/api/lists")).status_code == 200
        r = await api.put(f"/api/users/{user['id']}", json={
            "username": user["username"], "type": "api", "status": "disabled",
            "user_role_id": role})
        assert r.status_code == 200, r.text
        refused = await client.get("/api/lists")
        assert (refused.status_code, refused.json()) == (
            403, {"message": "invalid API credentials"})
        await api.put(f"/api/users/{user['id']}", json={
            "username": user["username"], "type": "api", "status": "enabled",
            "user_role_id": role})
        assert (await client.get("/api/lists")).status_code == 200
        assert (await api.delete(f"/api/users?id={user['id']}")).json() == {"data": True}
        assert (await client.get("/api/lists")).status_code == 403


async def test_roles_crud_and_rules(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/roles/users", json={"name": "x", "permissions": ["nope:all"]})
    assert (r.status_code, r.json()) == (400, {"message": "Invalid fields: permission: nope:all"})
    name = unique("editors")
    r = await api.post("/api/roles/users", json={"name": name,
                                                 "permissions": ["campaigns:get"]})
    assert r.status_code == 200, r.text
    role = r.json()["data"]
    assert {k: role[k] for k in ("type", "name", "permissions", "lists")} == {
        "type": "user", "name": name, "permissions": ["campaigns:get"], "lists": None}
    r = await api.put(f"/api/roles/users/{role['id']}",
                      json={"name": name, "permissions": ["campaigns:get", "templates:get"]})
    assert r.json()["data"]["permissions"] == ["campaigns:get", "templates:get"]
    roles = (await api.get("/api/roles/users")).json()["data"]
    assert roles[0]["id"] == 1 and roles[0]["name"] == "Super Admin"
    assert any(x["id"] == role["id"] for x in roles)

    lst = (await api.post("/api/lists", json={"name": unique("l")})).json()["data"]
    lrole = await create_list_role(api, {lst["id"]: ["list:get"]})
    found = [x for x in (await api.get("/api/roles/lists")).json()["data"] if x["id"] == lrole]
    assert found[0]["lists"] == [{"id": lst["id"], "name": lst["name"],
                                  "permissions": ["list:get"]}]
    r = await api.post("/api/roles/lists", json={"name": unique("b"), "lists": [
        {"id": lst["id"], "permissions": ["list:delete"]}]})
    assert r.status_code == 400

    for method, url in (("PUT", "/api/roles/users/1"), ("DELETE", "/api/roles/1")):
        r = await api.request(method, url, json={"name": "x", "permissions": []})
        assert (r.status_code, r.json()) == (400, {"message": "Invalid ID(s)"})

    user = await create_api_user(api, role["id"])
    r = await api.delete(f"/api/roles/{role['id']}")
    assert (r.status_code, r.json()) == (400, {"message": "Cannot delete role that is in use."})
    await api.delete(f"/api/users/{user['id']}")
    assert (await api.delete(f"/api/roles/{role['id']}")).json() == {"data": True}
    assert all(x["id"] != role["id"] for x in (await api.get("/api/roles/users")).json()["data"])


async def test_the_log_records_who_granted_which_role(api: httpx.AsyncClient,
                                                      runtime: Runtime) -> None:
    role = await create_role(api, "tx:send")
    user = await create_api_user(api, role)
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT data, metadata->>'actor' FROM eventlog.events WHERE stream_id = %s"
            " AND type = 'user.created'", (f"user-{user['id']}",))
        row = await cur.fetchone()
    assert row is not None
    data, actor = row
    assert (data["user_role_id"], actor) == (role, "admin")
    assert user["password"] not in str(data)


async def test_profile_shows_and_updates_the_caller(app: Litestar, api: httpx.AsyncClient
                                                    ) -> None:
    role = await create_role(api)
    name = unique("carol")
    r = await api.post("/api/users", json={
        "username": name, "email": f"{name}@example.com", "type": "user", "status": "enabled",
        "password_login": True, "password": "carol-password", "user_role_id": role})
    assert r.status_code == 200, r.text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                                 base_url="http://testserver",
                                 auth=httpx.BasicAuth(name, "carol-password")) as client:
        me = (await client.get("/api/profile")).json()["data"]
        assert (me["username"], me["user_role"]["id"]) == (name, role)
        r = await client.put("/api/profile", json={"name": "Carol", "email": me["email"]})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["name"] == "Carol"
        assert (await client.get("/api/users")).status_code == 403
