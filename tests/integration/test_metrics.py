"""Observability over HTTP: ``GET /metrics``, correlation ids, append counts."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from litestar import Litestar, Request, Response, post
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from events.store import NO_STREAM, StreamAppend
from events.users import UserCreated
from kernel.settings import Settings
from postlog.app import create_app
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.executor import Decision, execute
from services.command_api.respond import answer
from services.http.errors import EXCEPTION_HANDLERS
from services.http.middleware import install_observability
from services.runtime import Runtime, open_runtime

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}


@pytest.fixture
async def fresh_runtime(fresh_database_url: str) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=fresh_database_url, admin_user="admin", admin_password="admin-password",
        log_level="warning",
    )
    async with open_runtime(settings) as runtime:
        yield runtime


@post("/api/test/things", guards=[require_auth])
async def create_thing(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    """A stand-in command route: appends one event through the real executor and answer()."""
    runtime: Runtime = state.runtime
    ctx = await command_context(request)
    user_id = uuid.uuid4().int % 1_000_000_000

    async def decide(_: psycopg.AsyncConnection[Any]) -> Decision:
        event = UserCreated(user_id=user_id, username=f"thing{user_id}", user_type="api",
                            at=datetime.now(UTC))
        return Decision(appends=[StreamAppend(f"user-{user_id}", NO_STREAM, [event])])

    outcome = await execute(runtime.pool, ctx, decide)
    return await answer(runtime, ctx, outcome, [])


def command_app(runtime: Runtime) -> Litestar:
    app = Litestar(
        [create_thing], exception_handlers=EXCEPTION_HANDLERS, state=State({"runtime": runtime})
    )
    install_observability(app, runtime.metrics)
    return app


async def test_metrics_count_requests_by_route_and_status(fresh_runtime: Runtime) -> None:
    async with AsyncTestClient(create_app(fresh_runtime)) as client:
        assert (await client.get("/api/health", headers=ADMIN)).status_code == 200
        assert (await client.get("/api/health")).status_code == 403
        assert (await client.get("/api/no-such-thing")).status_code == 404
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'postlog_http_requests_total{method="GET",route="/api/health",status="200"} 1' in text
    assert 'postlog_http_requests_total{method="GET",route="/api/health",status="403"} 1' in text
    assert 'postlog_http_requests_total{method="GET",route="unmatched",status="404"} 1' in text
    assert 'postlog_http_request_duration_seconds_count{method="GET",route="/api/health"} 2' in text
    assert "postlog_database_up 1" in text


async def test_metrics_report_relay_and_projection_lag(fresh_runtime: Runtime) -> None:
    async with AsyncTestClient(command_app(fresh_runtime)) as client:
        for _ in range(3):
            assert (await client.post("/api/test/things", headers=ADMIN)).status_code == 200
    async with fresh_runtime.pool.connection() as conn:
        await conn.execute("INSERT INTO eventlog.checkpoints (name) VALUES ('relay:TESTSTREAM')")
        await conn.execute(
            "INSERT INTO readmodel.projection_checkpoints (name) VALUES ('test_projection')"
        )
    async with AsyncTestClient(create_app(fresh_runtime)) as client:
        text = (await client.get("/metrics")).text
    assert 'postlog_relay_lag_events{stream="TESTSTREAM"} 3' in text
    assert 'postlog_projection_lag_events{projection="test_projection"} 3' in text
    assert 'postlog_relay_lag_seconds{stream="TESTSTREAM"} ' in text
    assert 'postlog_projection_lag_seconds{projection="test_projection"} ' in text
    assert "postlog_event_appends_total 3" in text
    assert "postlog_events_appended_total 3" in text
    assert "postlog_log_head_position 3" in text


async def test_caught_up_checkpoint_has_no_lag(fresh_runtime: Runtime) -> None:
    async with AsyncTestClient(command_app(fresh_runtime)) as client:
        assert (await client.post("/api/test/things", headers=ADMIN)).status_code == 200
    async with fresh_runtime.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO eventlog.checkpoints (name, tx_id, global_position)"
            " SELECT 'relay:TESTSTREAM', tx_id, global_position FROM eventlog.events"
        )
    async with AsyncTestClient(create_app(fresh_runtime)) as client:
        text = (await client.get("/metrics")).text
    assert 'postlog_relay_lag_events{stream="TESTSTREAM"} 0' in text
    assert 'postlog_relay_lag_seconds{stream="TESTSTREAM"} 0.0' in text


async def test_client_correlation_id_is_echoed_and_stored_in_event_metadata(
    fresh_runtime: Runtime,
) -> None:
    cid = f"it-{uuid.uuid4()}"
    async with AsyncTestClient(command_app(fresh_runtime)) as client:
        response = await client.post(
            "/api/test/things", headers={**ADMIN, "X-Correlation-ID": cid}
        )
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == cid
    async with fresh_runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT metadata FROM eventlog.events")
        metadata = [row[0] for row in await cur.fetchall()]
    assert len(metadata) == 1
    assert metadata[0]["correlation_id"] == cid
    assert metadata[0]["actor"] == "admin"


async def test_request_id_header_is_used_and_a_new_id_made_otherwise(
    fresh_runtime: Runtime,
) -> None:
    async with AsyncTestClient(create_app(fresh_runtime)) as client:
        by_request_id = await client.get("/health", headers={"X-Request-ID": "req-42"})
        fresh_one = await client.get("/health")
        fresh_two = await client.get("/api/nothing-here")
        junk = await client.get("/health", headers={"X-Correlation-ID": "bad id\twith spaces"})
    assert by_request_id.headers["x-correlation-id"] == "req-42"
    generated = {r.headers["x-correlation-id"] for r in (fresh_one, fresh_two, junk)}
    assert len(generated) == 3
    for value in generated:
        assert uuid.UUID(value)


async def test_metrics_need_no_credentials_on_the_command_api_alone(
    fresh_runtime: Runtime,
) -> None:
    async with AsyncTestClient(create_app(fresh_runtime, parts=("command",))) as client:
        response: httpx.Response = await client.get("/metrics")
    assert response.status_code == 200
    assert "# TYPE postlog_http_requests_total counter" in response.text


async def test_every_metric_family_is_declared_once(fresh_runtime: Runtime) -> None:
    """The runner's own projection-lag gauges give way to the fresher scrape-time figures."""
    fresh_runtime.metrics.projection_lag_events["test_projection"] = 99
    async with fresh_runtime.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO readmodel.projection_checkpoints (name) VALUES ('test_projection')"
        )
    async with AsyncTestClient(create_app(fresh_runtime)) as client:
        text = (await client.get("/metrics")).text
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types))
    assert 'postlog_projection_lag_events{projection="test_projection"} 0' in text
    assert "} 99" not in text
