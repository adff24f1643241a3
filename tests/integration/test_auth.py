"""API authentication and user management over a real database, through the HTTP app."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from kernel.errors import Conflict, InvalidInput
from kernel.settings import Settings
from postlog.app import create_app
from services.auth.users import list_users
from services.command_api.users.handlers import create_api_user, delete_user, ensure_admin
from services.runtime import Runtime, open_runtime

FORBIDDEN = {"message": "invalid API credentials"}


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def auth_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings) as runtime:
        yield runtime


@pytest.fixture(scope="module")
async def client(auth_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with AsyncTestClient(create_app(auth_runtime)) as test_client:
        yield test_client


async def test_no_credentials_is_403(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 403
    assert response.json() == {"message": "invalid session"}


async def test_wrong_admin_password_is_403(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers=basic("admin", "not-the-password"))
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_unknown_user_is_403(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"Authorization": "token nobody:abc"})
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic %%%", "invalid Base64 value in Basic Authorization header"),
        ("Digest abc", "unknown Authorization scheme"),
        ("token just-a-name", "api_key:token missing"),
    ],
)
async def test_malformed_header_is_403_saying_why(
    client: httpx.AsyncClient, header: str, message: str
) -> None:
    response = await client.get("/api/health", headers={"Authorization": header})
    assert response.status_code == 403
    assert response.json() == {"message": message}


async def test_settings_admin_gets_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers=basic("admin", "admin-password"))
    assert response.status_code == 200
    assert response.json() == {"data": True}


async def test_public_health_needs_no_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"data": True}


async def test_api_user_token_works_in_every_header_form(
    client: httpx.AsyncClient, auth_runtime: Runtime
) -> None:
    name = unique("bot")
    token = await create_api_user(auth_runtime.pool, name)
    for headers in (
        basic(name, token),
        {"Authorization": f"token {name}:{token}"},
        {"Authorization": f"Bearer {name}:{token}"},
    ):
        response = await client.get("/api/health", headers=headers)
        assert response.status_code == 200, headers
        assert response.json() == {"data": True}


async def test_wrong_token_of_a_real_api_user_is_403(
    client: httpx.AsyncClient, auth_runtime: Runtime
) -> None:
    name = unique("bot")
    token = await create_api_user(auth_runtime.pool, name)
    wrong = token[:-1] + ("a" if token[-1] != "a" else "b")
    response = await client.get("/api/health", headers={"Authorization": f"token {name}:{wrong}"})
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_deleted_api_user_is_refused(
    client: httpx.AsyncClient, auth_runtime: Runtime
) -> None:
    name = unique("bot")
    token = await create_api_user(auth_runtime.pool, name)
    assert await delete_user(auth_runtime.pool, name)
    assert not await delete_user(auth_runtime.pool, name)
    response = await client.get("/api/health", headers={"Authorization": f"token {name}:{token}"})
    assert response.status_code == 403


async def test_api_user_creation_stores_only_a_hash_and_records_an_event(
    auth_runtime: Runtime,
) -> None:
    name = unique("bot")
    token = await create_api_user(auth_runtime.pool, name, actor="cli")
    assert len(token) == 48 and token.isalnum()
    async with auth_runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, password_hash, user_type FROM eventlog.api_users WHERE username = %s",
            (name,),
        )
        row = await cur.fetchone()
        assert row is not None
        user_id, stored, user_type = row
        cur = await conn.execute(
            "SELECT type, category, data::text, metadata FROM eventlog.events WHERE stream_id = %s",
            (f"user-{user_id}",),
        )
        events = await cur.fetchall()
    assert user_type == "api"
    assert token not in stored
    assert len(events) == 1
    event_type, category, data, metadata = events[0]
    assert (event_type, category) == ("user.created", "user")
    assert name in data and token not in data and stored not in data
    assert metadata["actor"] == "cli"
    assert name in [u.username for u in await list_users(auth_runtime.pool)]


async def test_api_user_names_are_validated_and_unique(auth_runtime: Runtime) -> None:
    name = unique("bot")
    await create_api_user(auth_runtime.pool, name)
    with pytest.raises(Conflict):
        await create_api_user(auth_runtime.pool, name)
    for bad in ("ab", "has:colon", "has space"):
        with pytest.raises(InvalidInput):
            await create_api_user(auth_runtime.pool, bad)


async def test_first_start_generates_an_admin_once(fresh_database_url: str) -> None:
    settings = Settings(database_url=fresh_database_url, log_level="warning")
    async with open_runtime(settings) as runtime:
        first = await ensure_admin(runtime.pool, settings)
        assert first.generated and first.username == "admin" and first.password
        again = await ensure_admin(runtime.pool, settings)
        assert again.username == "admin" and again.password is None and not again.generated
        async with AsyncTestClient(create_app(runtime)) as test_client:
            ok = await test_client.get("/api/health", headers=basic("admin", first.password))
            assert ok.status_code == 200
            cached = await test_client.get("/api/health", headers=basic("admin", first.password))
            assert cached.status_code == 200
            bad = await test_client.get("/api/health", headers=basic("admin", "guess"))
            assert bad.status_code == 403


async def test_env_password_sets_the_stored_admin_password(fresh_database_url: str) -> None:
    generated_settings = Settings(database_url=fresh_database_url, log_level="warning")
    env_settings = Settings(
        database_url=fresh_database_url, admin_user="admin", admin_password="from-env-1"
    )
    async with open_runtime(generated_settings) as runtime:
        generated = await ensure_admin(runtime.pool, generated_settings)
        admin = await ensure_admin(runtime.pool, env_settings)
        assert admin.username == "admin" and admin.password == "from-env-1"
        assert not admin.generated
        # Running again with the same password changes nothing.
        await ensure_admin(runtime.pool, env_settings)
        async with runtime.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT type FROM eventlog.events WHERE category = 'user'"
                " ORDER BY global_position"
            )
            types = [row[0] for row in await cur.fetchall()]
        assert types == ["user.created", "user.password_changed"]
        # This runtime's settings hold no password: the stored hash decides.
        async with AsyncTestClient(create_app(runtime)) as test_client:
            new = await test_client.get("/api/health", headers=basic("admin", "from-env-1"))
            assert new.status_code == 200
            assert generated.password
            old = await test_client.get("/api/health", headers=basic("admin", generated.password))
            assert old.status_code == 403
