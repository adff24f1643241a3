"""Hostile input through HTTP, with and without credentials: every request gets a clear
listmonk-style answer (400/413 with ``{"message": ...}``), appends nothing when refused, and
leaves every read model moving (the next normal write is readable when it is answered).

Each case reproduces a report of the hardening issue: a NUL byte from the public form froze
the subscribers read model, an 800 KB attribute stopped the relay, over-long names stopped
every projection, and many shapes of input answered 500.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.command_api.templates.seed import ensure_default_templates
from services.runtime import Runtime
from tests.integration.subscribers_support import (
    create,
    event_count,
    eventually,
    get,
    make_list,
    unique_email,
)


@pytest.fixture
async def public_list(api: httpx.AsyncClient) -> dict[str, Any]:
    return await make_list(api, type="public", optin="single")


async def assert_refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["message"]
    for word in words:
        assert word in message, message


async def assert_writes_still_readable(api: httpx.AsyncClient, lst: dict[str, Any]) -> None:
    """A normal write right after is answered with what it wrote, and GET shows it: the
    projections did not stall."""
    email = unique_email("after")
    created = await create(api, email=email, name="After Hostile", lists=[lst["id"]])
    assert [item["id"] for item in created["lists"]] == [lst["id"]]
    assert (await get(api, created["id"]))["name"] == "After Hostile"


# --- NUL and control characters ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["Pub\u0000Nul", "Eve\u000bBcc: a@evil", "x\u2028y",
                                  "x\u0085y", "Bell\u0007"])
async def test_public_subscription_refuses_control_characters_in_the_name(
        anon: httpx.AsyncClient, api: httpx.AsyncClient, runtime: Runtime,
        public_list: dict[str, Any], name: str) -> None:
    before = await event_count(runtime)
    response = await anon.post("/api/public/subscription", json={
        "email": unique_email("pub"), "name": name, "list_uuids": [public_list["uuid"]]})
    await assert_refused(response, 400, "invalid name")
    form = await anon.post("/subscription/form", data={
        "email": unique_email("pub"), "name": name, "l": public_list["uuid"]})
    assert form.status_code == 400 and "invalid name" in form.text
    assert await event_count(runtime) == before
    await assert_writes_still_readable(api, public_list)


async def test_public_form_with_a_percent_encoded_nul(
        anon: httpx.AsyncClient, api: httpx.AsyncClient, public_list: dict[str, Any]) -> None:
    body = f"email={unique_email('pub')}&name=Pub%00Nul&l={public_list['uuid']}"
    response = await anon.post("/subscription/form", content=body.encode(), headers={
        "content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "NUL" in response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    await assert_writes_still_readable(api, public_list)


@pytest.mark.parametrize("attribs", [{"k\u0000": "v"}, {"k": "v\u0000"}, {"k": ["\u0000"]}])
async def test_attribs_holding_a_nul_are_refused(
        api: httpx.AsyncClient, runtime: Runtime, attribs: dict[str, Any]) -> None:
    before = await event_count(runtime)
    response = await api.post("/api/subscribers", json={"email": unique_email(),
                                                        "attribs": attribs})
    await assert_refused(response, 400, "invalid attribs", "NUL")
    assert await event_count(runtime) == before


async def test_attribs_nested_too_deep_are_refused(api: httpx.AsyncClient) -> None:
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(100):
        inner["a"] = {}
        inner = inner["a"]
    response = await api.post("/api/subscribers", json={"email": unique_email(),
                                                        "attribs": nested})
    await assert_refused(response, 400, "nested more than 64 levels")


async def test_update_and_patch_apply_the_same_rules(api: httpx.AsyncClient) -> None:
    sub = await create(api)
    for method in ("PUT", "PATCH"):
        response = await api.request(method, f"/api/subscribers/{sub['id']}",
                                     json={"email": sub["email"], "name": "a\rb"})
        await assert_refused(response, 400, "invalid name", "line break")
        response = await api.request(method, f"/api/subscribers/{sub['id']}",
                                     json={"email": sub["email"], "attribs": {"\u0000": 1}})
        await assert_refused(response, 400, "invalid attribs")
    assert (await get(api, sub["id"]))["name"] == sub["name"]


async def test_list_and_template_fields_holding_a_nul_are_400s(
        api: httpx.AsyncClient, runtime: Runtime) -> None:
    await ensure_default_templates(runtime.pool)
    before = await event_count(runtime)
    cases = [
        ("/api/lists", {"name": "a\u0000b"}, "invalid name"),
        ("/api/lists", {"name": "ok", "description": "a\u0000b"}, "invalid description"),
        ("/api/lists", {"name": "ok", "tags": ["t\u0000"]}, "invalid tags"),
        ("/api/templates", {"name": "t\u0000", "type": "campaign",
                            "body": '{{ template "content" . }}'}, "invalid name"),
        ("/api/templates", {"name": "t", "type": "campaign",
                            "body": '{{ template "content" . }}\u0000'}, "invalid body"),
        ("/api/templates", {"name": "t", "type": "tx", "subject": "s\u000b", "body": "b"},
         "invalid subject"),
    ]
    for path, body, words in cases:
        response = await api.post(path, json=body)
        await assert_refused(response, 400, words)
    assert await event_count(runtime) == before


# --- sizes: NATS's max payload and the read models' indexes -------------------------------------

async def test_an_800_kb_attribute_is_413_and_nothing_is_appended(
        api: httpx.AsyncClient, runtime: Runtime) -> None:
    lst = await make_list(api)
    before = await event_count(runtime)
    response = await api.post("/api/subscribers", json={
        "email": unique_email("big"), "attribs": {"blob": "x" * 800_000}})
    await assert_refused(response, 413, "the limit is 1000000")
    assert await event_count(runtime) == before
    await assert_writes_still_readable(api, lst)


async def test_a_2_mb_tx_header_is_413(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await ensure_default_templates(runtime.pool)
    template = (await api.post("/api/templates", json={
        "name": "tx-big", "type": "tx", "subject": "s", "body": "b"})).json()["data"]
    sub = await create(api)
    before = await event_count(runtime)
    data = json.dumps({"subscriber_id": sub["id"], "template_id": template["id"],
                       "headers": [{"X-Big": "y" * 4000}] * 500})
    response = await api.post("/api/tx", files={"data": (None, data)})
    await assert_refused(response, 413, "request too large")
    assert await event_count(runtime) == before


async def test_a_one_million_character_name_is_refused_on_create(
        api: httpx.AsyncClient, runtime: Runtime) -> None:
    lst = await make_list(api)
    before = await event_count(runtime)
    response = await api.post("/api/subscribers", json={"email": unique_email(),
                                                        "name": "n" * 1_000_000})
    await assert_refused(response, 400, "Invalid name.")
    response = await api.post("/api/subscribers", json={"email": unique_email(),
                                                        "name": "é" * 1001})
    await assert_refused(response, 400, "Invalid name.")
    assert await event_count(runtime) == before
    named = await create(api, name="é" * 1000, lists=[lst["id"]])
    assert (await get(api, named["id"]))["name"] == "é" * 1000
    await assert_writes_still_readable(api, lst)


async def test_a_30000_character_archive_slug_is_refused(
        api: httpx.AsyncClient, runtime: Runtime) -> None:
    await ensure_default_templates(runtime.pool)
    lst = await make_list(api)
    slug = uuid.uuid4().hex * 1000
    response = await api.post("/api/campaigns", json={
        "name": "c", "subject": "s", "lists": [lst["id"]], "archive_slug": slug[:30000]})
    await assert_refused(response, 400, "invalid archive_slug", "2000 bytes")
    created = await api.post("/api/campaigns", json={"name": "c", "subject": "s",
                                                     "lists": [lst["id"]]})
    assert created.status_code == 200, created.text
    campaign_id = created.json()["data"]["id"]
    response = await api.put(f"/api/campaigns/{campaign_id}/archive",
                             json={"archive": True, "archive_slug": slug[:30000]})
    await assert_refused(response, 400, "invalid archive_slug")
    response = await api.put(f"/api/campaigns/{campaign_id}", json={
        "lists": [lst["id"]], "headers": [{"X-Evil\n": "v"}]})
    await assert_refused(response, 400, "invalid headers")
    await assert_writes_still_readable(api, lst)


# --- malformed requests -------------------------------------------------------------------------

async def test_json_nested_a_thousand_deep_is_a_400(api: httpx.AsyncClient) -> None:
    body = b'{"name": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    for path in ("/api/lists", "/api/subscribers", "/api/campaigns", "/api/tx"):
        response = await api.post(path, content=body,
                                  headers={"content-type": "application/json"})
        await assert_refused(response, 400, "Syntax error")


async def test_invalid_utf8_in_a_body_is_a_400(api: httpx.AsyncClient) -> None:
    for path in ("/api/lists", "/api/subscribers", "/api/templates", "/api/campaigns"):
        response = await api.post(path, content=b'{"name": "caf\xe9"}',
                                  headers={"content-type": "application/json"})
        await assert_refused(response, 400, "Syntax error")


@pytest.mark.parametrize("url", [
    "/api/lists?query=a%00b", "/api/lists?tag=a%00b", "/api/subscribers?search=a%00b",
    "/api/subscribers?query=subscribers.name%3D%27a%00%27", "/api/campaigns?query=a%00b",
    "/api/campaigns?tags=a%00b", "/api/templates?x=%00",
])
async def test_a_nul_in_query_parameters_is_a_400(api: httpx.AsyncClient, url: str) -> None:
    response = await api.get(url)
    await assert_refused(response, 400, "NUL")


async def test_a_nul_in_a_command_url_is_a_400_too(api: httpx.AsyncClient) -> None:
    response = await api.delete("/api/lists?query=a%00b")
    await assert_refused(response, 400, "NUL")


async def test_importing_a_file_that_is_neither_csv_nor_zip_is_a_400(
        api: httpx.AsyncClient) -> None:
    lst = await make_list(api)
    await _reset_import(api)
    try:
        response = await api.post("/api/import/subscribers", files={
            "file": ("people.xlsx", b"\x00\x01 not a zip", "application/octet-stream")},
            data={"params": json.dumps({"mode": "subscribe", "lists": [lst["id"]],
                                        "delim": ","})})
        await assert_refused(response, 400, "Error processing ZIP file")
    finally:
        await _reset_import(api)


async def test_import_rows_with_hostile_names_are_skipped_and_logged(
        api: httpx.AsyncClient, runtime: Runtime) -> None:
    lst = await make_list(api)
    good, long_name, nul_name = unique_email("good"), unique_email("long"), unique_email("nul")
    rows = [
        "email,name,attributes",
        f'{good},Good Person,"{{""k"": 1}}"',
        f"{long_name},{'x' * 20000},",
        f"{nul_name},Nul\u0000Name,",
    ]
    await _reset_import(api)
    try:
        response = await api.post("/api/import/subscribers", files={
            "file": ("subs.csv", ("\n".join(rows) + "\n").encode(), "text/csv")},
            data={"params": json.dumps({"mode": "subscribe", "lists": [lst["id"]],
                                        "delim": ","})})
        assert response.status_code == 200, response.text

        async def done() -> bool:
            status = (await api.get("/api/import/subscribers")).json()["data"]
            return bool(status["status"] == "finished")

        await eventually(done, within=60)
        logs = (await api.get("/api/import/subscribers/logs")).json()["data"]
        assert "skipping line 2: Invalid name." in logs, logs
        assert "skipping line 3: invalid name: it contains a NUL character" in logs, logs

        async def imported() -> bool:
            found = await api.get("/api/subscribers", params={"list_id": lst["id"]})
            return bool(found.json()["data"]["total"] == 1)

        await eventually(imported, within=30)
    finally:
        await _reset_import(api)
    await assert_writes_still_readable(api, lst)


async def _reset_import(api: httpx.AsyncClient) -> None:
    async def idle() -> bool:
        status = (await api.get("/api/import/subscribers")).json()["data"]["status"]
        if status in ("importing", "stopping"):
            await api.delete("/api/import/subscribers")
            return False
        return True

    await eventually(idle, within=60)
    await api.delete("/api/import/subscribers")


@pytest.fixture(autouse=True)
async def _templates(runtime: Runtime) -> AsyncIterator[None]:
    """The install's default templates exist before these tests add their own."""
    await ensure_default_templates(runtime.pool)
    yield


async def test_an_over_long_idempotency_key_is_a_400(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/lists", json={"name": "idem"},
                              headers={"Idempotency-Key": "k" * 10_000})
    await assert_refused(response, 400, "invalid Idempotency-Key", "255 bytes")
