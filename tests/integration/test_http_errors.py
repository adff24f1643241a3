"""Every error answers in listmonk's envelope ``{"message": ...}`` with the right status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.params import Body
from litestar.testing import AsyncTestClient

from kernel.metrics import Metrics
from kernel.settings import Settings
from postlog.app import create_app
from services.http.errors import EXCEPTION_HANDLERS
from services.http.middleware import install_observability
from services.runtime import Runtime, open_runtime


class NewThing(msgspec.Struct):
    name: str
    size: int = 0


@post("/api/things")
async def create_thing(data: Annotated[NewThing, Body()]) -> dict[str, str]:
    return {"data": data.name}


@get("/api/explode")
async def explode() -> None:
    raise RuntimeError("database on fire")


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Litestar(
        [create_thing, explode], exception_handlers=EXCEPTION_HANDLERS, request_max_body_size=64
    )
    install_observability(app, Metrics())
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def postlog_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime: Runtime
    async with open_runtime(settings) as runtime, AsyncTestClient(create_app(runtime)) as c:
        yield c


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/things", content=b'{"name": ')
    assert response.status_code == 400
    assert response.json()["message"].startswith("invalid JSON")


async def test_missing_body_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/things")
    assert response.status_code == 400
    assert response.json() == {"message": "request body is missing or not JSON"}


async def test_wrong_field_type_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/things", json={"name": 5})
    assert response.status_code == 400
    assert response.json() == {"message": "Expected `str`, got `int` (name)"}


async def test_missing_field_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/things", json={"size": 1})
    assert response.status_code == 400
    assert "name" in response.json()["message"]


async def test_oversized_body_is_413_with_the_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/things", json={"name": "x" * 200})
    assert response.status_code == 413
    assert response.json() == {"message": "request body too large (limit 64 bytes)"}


async def test_unexpected_exception_is_500_without_details(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/explode")
    assert response.status_code == 500
    assert response.json() == {"message": "internal server error"}
    assert "x-correlation-id" in response.headers


async def test_unknown_api_route_is_listmonks_404(postlog_client: httpx.AsyncClient) -> None:
    response = await postlog_client.get("/api/does-not-exist")
    assert response.status_code == 404
    assert response.json() == {"message": "404 unknown endpoint"}


async def test_wrong_method_is_405(postlog_client: httpx.AsyncClient) -> None:
    response = await postlog_client.delete("/api/health")
    assert response.status_code == 405
    assert response.json() == {"message": "Method Not Allowed"}
