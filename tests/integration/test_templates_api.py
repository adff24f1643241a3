"""The Templates API through HTTP, against Postgres and NATS with the relay and projector running.

The database is shared by the session: tests create templates of their own and put the
default back when they move it.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from events.store import head_position
from kernel.db import open_pool
from kernel.settings import Settings
from projections.rebuild import rebuild
from projections.templates import TemplatesProjection
from services.command_api.templates.seed import ensure_default_templates
from services.runtime import Runtime

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$")
KEYS = ["id", "created_at", "updated_at", "name", "subject", "type", "body", "body_source",
        "is_default"]
LAYOUT = '<html><body>{{ template "content" . }}<p>{{ .Subscriber.FirstName }}</p></body></html>'
PLACEHOLDER = ('The placeholder {{ template "content" . }} should appear exactly once in the'
               " template.")


@pytest.fixture(autouse=True, scope="module")
async def seeded(runtime: Runtime, app: Litestar) -> AsyncIterator[None]:
    """The default templates, recorded as at start-up and projected."""
    await ensure_default_templates(runtime.pool)
    async with runtime.pool.connection() as conn:
        head = await head_position(conn)
    deadline = time.monotonic() + 30
    while not await runtime.waiter.wait(head, ["templates"]):
        assert time.monotonic() < deadline, "the templates projection did not catch up"
    yield


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": f"t-{uuid.uuid4().hex[:8]}", "type": "campaign", "body": LAYOUT, **fields}
    response = await api.post("/api/templates", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def templates(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get("/api/templates", params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def default_id(api: httpx.AsyncClient) -> int:
    [found] = [t["id"] for t in await templates(api) if t["is_default"]]
    return int(found)


async def event_count(runtime: Runtime) -> int:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM eventlog.events")
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_fresh_log_gets_the_default_templates_once(
    fresh_database_url: str, settings: Settings
) -> None:
    pool = await open_pool(settings.model_copy(update={"database_url": fresh_database_url}),
                           name="seed-test")
    try:
        first = await asyncio.gather(*(ensure_default_templates(pool) for _ in range(3)))
        again = await ensure_default_templates(pool)
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT stream_id, type, data->>'name' FROM eventlog.events ORDER BY"
                " global_position")
            rows = await cur.fetchall()
    finally:
        await pool.close()
    assert sorted(first) == [False, False, True] and again is False
    assert rows == [
        ("template-1", "template.created", "Default campaign template"),
        ("template-1", "template.default_set", None),
        ("template-2", "template.created", "Default archive template"),
        ("template-3", "template.created", "Sample transactional template"),
    ]


async def test_seeds_are_listed_with_one_campaign_default(api: httpx.AsyncClient) -> None:
    found = {t["name"]: t for t in await templates(api)}
    default = found["Default campaign template"]
    assert (default["type"], default["is_default"], default["subject"]) == (
        "campaign", True, "")
    assert '{{ template "content" . }}' in default["body"]
    assert "{{ UnsubscribeURL }}" in default["body"] and "{{ TrackView }}" in default["body"]
    sample = found["Sample transactional template"]
    assert (sample["type"], sample["is_default"], sample["subject"]) == (
        "tx", False, "Welcome {{ .Subscriber.Name }}")
    assert sum(t["is_default"] for t in found.values()) == 1


async def test_create_answers_the_template_as_get_shows_it(api: httpx.AsyncClient) -> None:
    created = await create(api, name="Weekly layout", subject="dropped for campaigns")
    assert list(created) == KEYS
    assert {k: created[k] for k in KEYS[3:]} == {
        "name": "Weekly layout", "subject": "", "type": "campaign", "body": LAYOUT,
        "body_source": None, "is_default": False}
    assert TIMESTAMP.match(created["created_at"]) and created["updated_at"] == created["created_at"]
    fetched = await api.get(f"/api/templates/{created['id']}")  # read-your-writes
    assert fetched.json() == {"data": created}


async def test_create_tx_and_visual_templates(api: httpx.AsyncClient) -> None:
    tx = await create(api, type="tx", subject="Order {{ .Tx.Data.id }}", body="<p>Hi</p>")
    assert (tx["type"], tx["subject"]) == ("tx", "Order {{ .Tx.Data.id }}")
    visual = await create(api, type="campaign_visual", body="<p>built</p>",
                          body_source='{"root": {}}')
    assert (visual["type"], visual["body_source"]) == ("campaign_visual", '{"root": {}}')


async def test_list_is_a_plain_array_oldest_first_and_no_body_drops_bodies(
    api: httpx.AsyncClient,
) -> None:
    created = await create(api)
    everything = await templates(api)
    assert created in everything
    assert [t["created_at"] for t in everything] == sorted(t["created_at"] for t in everything)
    slim = await templates(api, no_body="true")
    assert all("body" not in t and t["body_source"] is None for t in slim)
    one = (await api.get(f"/api/templates/{created['id']}", params={"no_body": "1"})).json()
    assert "body" not in one["data"] and one["data"]["name"] == created["name"]


async def test_update_replaces_the_name_and_keeps_what_was_sent_empty(
    api: httpx.AsyncClient,
) -> None:
    before = await create(api, type="tx", subject="S", body="<p>b</p>")
    response = await api.put(f"/api/templates/{before['id']}",
                             json={"name": "Renamed", "type": "campaign"})
    assert response.status_code == 200, response.text
    after = response.json()["data"]
    assert (after["name"], after["type"], after["subject"], after["body"]) == (
        "Renamed", "tx", "S", "<p>b</p>")
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] > before["updated_at"]
    assert (await api.get(f"/api/templates/{before['id']}")).json() == {"data": after}
    form = await api.put(f"/api/templates/{before['id']}",
                         data={"name": "Form", "subject": "New {{ .Subscriber.Name }}"})
    assert form.json()["data"]["subject"] == "New {{ .Subscriber.Name }}"


@pytest.mark.parametrize(("body", "message"), [
    ({"type": "campaign", "body": LAYOUT}, "Invalid length for name."),
    ({"name": "x", "type": "newsletter", "body": LAYOUT}, "Invalid template type"),
    ({"name": "x", "type": "campaign", "body": "<p>no tag</p>"}, PLACEHOLDER),
    ({"name": "x", "type": "tx", "body": "<p>b</p>"}, "Missing field(s): subject"),
    ({"name": "x", "type": "campaign", "body": LAYOUT + "\n{{ if }}"},
     "error compiling transactional template: template: base:2: missing value for if"),
    ({"name": "x", "type": "tx", "subject": "s", "body": "{{ TrackView }}"},
     'error compiling transactional template: template: base:1: function "TrackView" not'
     " defined"),
    ({"name": 5}, "Unmarshal type error: expected=string, got=number, field=name"),
])
async def test_bad_templates_are_400_and_append_nothing(
    api: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any], message: str
) -> None:
    before = await event_count(runtime)
    response = await api.post("/api/templates", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(message)
    assert await event_count(runtime) == before


async def test_bad_edits_are_400_and_append_nothing(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    target = await create(api)
    before = await event_count(runtime)
    for body, message in (({"name": ""}, "Invalid length for name."),
                          ({"name": "x", "body": "<p>gone</p>"}, PLACEHOLDER)):
        response = await api.put(f"/api/templates/{target['id']}", json=body)
        assert (response.status_code, response.json()) == (400, {"message": message})
    missing = await api.put("/api/templates/987654321", json={"name": "x"})
    assert (missing.status_code, missing.json()) == (404, {"message": "Template not found"})
    assert await event_count(runtime) == before


async def test_set_default_moves_it_and_answers_every_template(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    original = await default_id(api)
    chosen = await create(api)
    try:
        response = await api.put(f"/api/templates/{chosen['id']}/default")
        assert response.status_code == 200, response.text
        listed = response.json()["data"]
        assert isinstance(listed, list)
        assert [t["id"] for t in listed if t["is_default"]] == [chosen["id"]]
        assert await default_id(api) == chosen["id"]
        before = await event_count(runtime)
        again = await api.put(f"/api/templates/{chosen['id']}/default")
        assert again.status_code == 200 and await event_count(runtime) == before
        refused = await api.delete(f"/api/templates/{chosen['id']}")
        assert (refused.status_code, refused.json()) == (
            400, {"message": "Cannot delete non-existent or default template"})
    finally:
        assert (await api.put(f"/api/templates/{original}/default")).status_code == 200
    assert await default_id(api) == original
    assert (await api.delete(f"/api/templates/{chosen['id']}")).json() == {"data": True}


async def test_only_campaign_templates_can_be_the_default(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    tx = await create(api, type="tx", subject="s", body="b")
    before = await event_count(runtime)
    response = await api.put(f"/api/templates/{tx['id']}/default")
    assert (response.status_code, response.json()) == (
        400, {"message": "Only campaign templates can be set as the default"})
    missing = await api.put("/api/templates/987654321/default")
    assert (missing.status_code, missing.json()) == (404, {"message": "Template not found"})
    assert await event_count(runtime) == before


async def test_concurrent_default_changes_leave_exactly_one_default(
    api: httpx.AsyncClient,
) -> None:
    original = await default_id(api)
    rivals = [await create(api) for _ in range(3)]
    try:
        answers = await asyncio.gather(*(api.put(f"/api/templates/{t['id']}/default")
                                         for t in rivals))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        defaults = [t for t in await templates(api) if t["is_default"]]
        assert len(defaults) == 1 and defaults[0]["id"] in {t["id"] for t in rivals}
    finally:
        assert (await api.put(f"/api/templates/{original}/default")).status_code == 200


async def test_delete_then_it_is_gone(api: httpx.AsyncClient, runtime: Runtime) -> None:
    created = await create(api)
    path = f"/api/templates/{created['id']}"
    assert (await api.delete(path)).json() == {"data": True}
    assert (await api.get(path)).status_code == 404
    assert (await api.get(path)).json() == {"message": "Template not found"}
    before = await event_count(runtime)
    again = await api.delete(path)  # listmonk: nothing deleted is this 400
    assert (again.status_code, again.json()) == (
        400, {"message": "Cannot delete non-existent or default template"})
    assert await event_count(runtime) == before
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT (data->>'default_template_id')::int FROM eventlog.events"
            " WHERE stream_id = %s AND type = 'template.deleted'", (f"template-{created['id']}",))
        assert await cur.fetchone() == (await default_id(api),)


async def test_preview_of_a_stored_template_is_raw_html(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/api/templates/{await default_id(api)}/preview")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Dummy campaign subject</title>" in response.text
    assert "Hello there" in response.text and "/px.png" in response.text
    tx = await create(api, type="tx", subject="s", body="<p>{{ .Subscriber.Name }}</p>")
    tx_preview = await api.get(f"/api/templates/{tx['id']}/preview")
    assert tx_preview.text == "<p>Demo Subscriber</p>"
    missing = await api.get("/api/templates/987654321/preview")
    assert (missing.status_code, missing.json()) == (404, {"message": "Template not found"})


async def test_preview_of_a_posted_body(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/templates/preview", data={"body": LAYOUT})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Hello there" in response.text and "<p>Demo</p>" in response.text
    tx = await api.post("/api/templates/preview", data={
        "template_type": "tx", "body": "{{ .Subscriber.Attribs.city }}"})
    assert tx.text == "Bengaluru"
    as_json = await api.post("/api/templates/preview",
                             json={"template_type": "tx", "body": "<b>{{ 1 }}</b>"})
    assert as_json.text == "<b>1</b>"


@pytest.mark.parametrize(("form", "message"), [
    ({"body": "<p>no tag</p>"}, PLACEHOLDER),
    ({"body": LAYOUT + "{{ nope }}"},
     'Error compiling template: error compiling base template: template: base:1: function'
     ' "nope" not defined'),
    ({"body": LAYOUT + "{{ .Campaign.Nope }}"}, "Error rendering message: template: base:1:"),
    ({"template_type": "tx", "body": "{{ end }}"},
     "error compiling transactional template: template: base:1: unexpected {{end}}"),
])
async def test_bad_previews_are_400s(
    api: httpx.AsyncClient, form: dict[str, str], message: str
) -> None:
    response = await api.post("/api/templates/preview", data=form)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


async def test_endpoints_need_credentials(anon: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/api/templates"), ("GET", "/api/templates/1"),
                         ("GET", "/api/templates/1/preview"), ("POST", "/api/templates"),
                         ("POST", "/api/templates/preview"), ("PUT", "/api/templates/1"),
                         ("PUT", "/api/templates/1/default"), ("DELETE", "/api/templates/1")):
        response = await anon.request(method, path)
        assert response.status_code == 403, (method, path)


@pytest.mark.parametrize("bad", ["0", "-1", "abc"])
async def test_ids_below_one_or_not_numbers_are_invalid(api: httpx.AsyncClient, bad: str) -> None:
    for method, path in (("GET", f"/api/templates/{bad}"), ("PUT", f"/api/templates/{bad}"),
                         ("DELETE", f"/api/templates/{bad}"),
                         ("GET", f"/api/templates/{bad}/preview"),
                         ("PUT", f"/api/templates/{bad}/default")):
        response = await api.request(method, path, json={"name": "x"})
        assert (response.status_code, response.json()) == (400, {"message": "invalid ID"})


async def test_same_idempotency_key_gives_the_same_answer_and_one_template(
    api: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"name": f"once-{uuid.uuid4().hex[:6]}", "type": "campaign", "body": LAYOUT}
    first = await api.post("/api/templates", json=body, headers=headers)
    second = await api.post("/api/templates", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert [t["name"] for t in await templates(api)].count(body["name"]) == 1


async def test_rebuilding_the_projection_gives_the_same_answers(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    kept = await create(api)
    await api.put(f"/api/templates/{kept['id']}", json={"name": "rebuilt"})
    await api.delete(f"/api/templates/{(await create(api))['id']}")
    before = await templates(api)
    await rebuild(runtime.settings, runtime.pool, TemplatesProjection(), progress=False)
    assert await templates(api) == before
    after_swap = await create(api)  # the runner goes on
    assert (await api.get(f"/api/templates/{after_swap['id']}")).status_code == 200
