"""The Subscribers API through HTTP (create, get, update, patch, delete and erasure), against
Postgres and NATS with the relay and projector running.

The database is shared by the session, so each test makes its own e-mails and lists.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from events.crypto import load_keys
from kernel.nats import connect
from kernel.settings import Settings
from projections.lists import ListsProjection
from projections.rebuild import rebuild
from projections.registry import projection_by_name
from services.runtime import Runtime
from tests.integration.subscribers_support import (
    SUBSCRIBER_KEYS,
    SUBSCRIPTION_KEYS,
    TIMESTAMP,
    create,
    event_count,
    eventually,
    get,
    get_list,
    make_list,
    scalar,
    statuses,
    unique_email,
)

# --- create and get ---------------------------------------------------------------------------

async def test_create_answers_the_subscriber_as_get_shows_it(api: httpx.AsyncClient) -> None:
    listed = await make_list(api, type="public", optin="single", tags=["test"])
    email = unique_email()
    created = await create(api, email=email, name="The Subscriber", status="enabled",
                           lists=[listed["id"]],
                           attribs={"city": "Bengaluru", "projects": 3,
                                    "stack": {"languages": ["go", "python"]}})
    assert list(created) == SUBSCRIBER_KEYS
    assert uuid.UUID(created["uuid"]) and created["id"] >= 1
    assert (created["email"], created["name"], created["status"]) == (
        email, "The Subscriber", "enabled")
    assert created["attribs"] == {"city": "Bengaluru", "projects": 3,
                                  "stack": {"languages": ["go", "python"]}}
    assert TIMESTAMP.match(created["created_at"]) and created["updated_at"] == created["created_at"]
    [subscription] = created["lists"]
    assert list(subscription) == SUBSCRIPTION_KEYS
    assert subscription["subscription_status"] == "unconfirmed"
    assert subscription["subscription_meta"] == {}
    assert TIMESTAMP.match(subscription["subscription_created_at"])
    assert {k: subscription[k] for k in ("id", "uuid", "name", "type", "optin", "tags")} == {
        k: listed[k] for k in ("id", "uuid", "name", "type", "optin", "tags")}
    assert await get(api, created["id"]) == created  # read-your-writes: no waiting


async def test_email_is_normalised_and_name_derived(api: httpx.AsyncClient) -> None:
    local = f"John.Doe{uuid.uuid4().hex[:6]}"
    created = await create(api, email=f"  {local}@Example.COM ")
    assert created["email"] == f"{local.lower()}@example.com"
    assert created["name"] == f"John Doe{local[8:].lower()}"
    assert (created["status"], created["attribs"], created["lists"]) == ("enabled", {}, [])


@pytest.mark.parametrize("email", ["", "nope", "a@", "@b.c", "John <j@x.com>", "a b@c.d",
                                   "a..b@c.d", ".a@b.c", "a@b.c.", '"a"@b.c'])
async def test_invalid_emails_are_400_and_append_nothing(
    api: httpx.AsyncClient, runtime: Runtime, email: str
) -> None:
    before = await event_count(runtime)
    response = await api.post("/api/subscribers", json={"email": email, "name": "x"})
    assert (response.status_code, response.json()) == (400, {"message": "Invalid email."})
    assert await event_count(runtime) == before


async def test_bad_statuses_and_bodies_are_400_and_append_nothing(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    sub = await create(api)
    before = await event_count(runtime)
    for method, path, body, message in [
        ("POST", "/api/subscribers", {"email": unique_email(), "status": "gone"},
         "Invalid subscriber status: 'gone' (one of enabled, disabled, blocklisted)"),
        ("POST", "/api/subscribers", {"email": unique_email(), "attribs": "x"},
         "Unmarshal type error: expected=models.JSON, got=string, field=attribs"),
        ("PUT", "/api/subscribers/lists",
         {"ids": [sub["id"]], "action": "add", "target_list_ids": [1], "status": "maybe"},
         "Invalid subscription status: 'maybe' (one of unconfirmed, confirmed, unsubscribed)"),
    ]:
        response = await api.request(method, path, json=body)
        assert (response.status_code, response.json()) == (400, {"message": message})
    assert await event_count(runtime) == before


async def test_create_from_a_form(api: httpx.AsyncClient) -> None:
    listed = await make_list(api)
    email = unique_email()
    response = await api.post("/api/subscribers", data={"email": email, "name": "Form Filler",
                                                        "lists": [str(listed["id"])]})
    assert response.status_code == 200, response.text
    created = response.json()["data"]
    assert (created["email"], created["name"], list(statuses(created))) == (
        email, "Form Filler", [listed["id"]])


async def test_unknown_subscriber_is_404_and_bad_ids_400(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/subscribers/999999999")
    assert (response.status_code, response.json()) == (404, {"message": "Subscriber not found"})
    for bad in ("0", "-1", "abc"):
        response = await api.get(f"/api/subscribers/{bad}")
        assert (response.status_code, response.json()) == (400, {"message": "invalid ID"})


async def test_duplicate_email_is_409_case_insensitively(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    email = unique_email()
    await create(api, email=email)
    before = await event_count(runtime)
    response = await api.post("/api/subscribers", json={"email": email.upper()})
    assert (response.status_code, response.json()) == (409, {"message": "E-mail already exists."})
    assert await event_count(runtime) == before


async def test_concurrent_duplicate_creates_give_exactly_one_subscriber(
    api: httpx.AsyncClient,
) -> None:
    email = unique_email()
    responses = await asyncio.gather(*[
        api.post("/api/subscribers", json={"email": email if i % 2 else email.upper()})
        for i in range(8)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 7, [r.text for r in responses]


# --- delete and erasure ---------------------------------------------------------------------

async def nats_payloads(settings: Settings) -> list[bytes]:
    nc = await connect(settings, "tests-subscribers")
    try:
        js = nc.jetstream()
        info = await js.stream_info(settings.stream_name)
        return [(await js.get_msg(settings.stream_name, seq)).data or b""
                for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    finally:
        await nc.close()


async def test_delete_erases_personal_data_everywhere(
    api: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    listed = await make_list(api)
    email, name = unique_email("erase"), f"Erin Secret{uuid.uuid4().hex[:6]}"
    created = await create(api, email=email, name=name, lists=[listed["id"]],
                           attribs={"city": f"Hidden{uuid.uuid4().hex[:6]}"},
                           headers={"Idempotency-Key": uuid.uuid4().hex})
    sid, city = created["id"], created["attribs"]["city"]
    assert (await get(api, sid))["email"] == email
    assert (await get_list(api, listed["id"]))["subscriber_count"] == 1

    response = await api.delete(f"/api/subscribers/{sid}")
    assert response.json() == {"data": True}
    assert (await api.get(f"/api/subscribers/{sid}")).status_code == 404
    assert (await get_list(api, listed["id"]))["subscriber_count"] == 0

    for secret in (email, name, city):
        assert await scalar(runtime, "SELECT count(*) FROM eventlog.events"
                            " WHERE data::text ILIKE %s", f"%{secret}%") == 0
        assert await scalar(runtime, "SELECT count(*) FROM eventlog.idempotency"
                            " WHERE convert_from(response_body, 'UTF8') ILIKE %s",
                            f"%{secret}%") == 0
    assert await scalar(runtime, "SELECT count(*) FROM readmodel.subscribers WHERE id = %s",
                        sid) == 0
    assert await scalar(runtime, "SELECT count(*) FROM readmodel.subscriber_lists"
                        " WHERE subscriber_id = %s", sid) == 0
    assert await scalar(runtime, "SELECT count(*) FROM eventlog.subscriber_emails"
                        " WHERE subscriber_id = %s", sid) == 0
    async with runtime.pool.connection() as conn:
        assert await load_keys(conn, [sid]) == {}

    async def deletion_published() -> bool:
        return any(b"subscriber.deleted" in p and f'"subscriber-{sid}"'.encode() in p
                   for p in await nats_payloads(settings))

    await eventually(deletion_published)
    payloads = [p for p in await nats_payloads(settings) if f'"subscriber-{sid}"'.encode() in p]
    assert len(payloads) >= 3
    for secret in (email, name, city):
        assert not any(secret.lower().encode() in p.lower() for p in payloads)


async def test_delete_many_and_unknown_ids(api: httpx.AsyncClient) -> None:
    one, two = await create(api), await create(api)
    response = await api.delete("/api/subscribers",
                                params=[("id", one["id"]), ("id", two["id"]), ("id", 999999999)])
    assert response.json() == {"data": True}
    for sid in (one["id"], two["id"]):
        assert (await api.get(f"/api/subscribers/{sid}")).status_code == 404
    assert (await api.delete("/api/subscribers/999999999")).json() == {"data": True}
    # The e-mail is free again once its subscriber is gone.
    again = await create(api, email=one["email"])
    assert again["id"] != one["id"]


@pytest.mark.parametrize(("query", "message"), [
    ("", "One or more IDs are invalid: ids"),
    ("?id=x", 'One or more IDs are invalid: strconv.Atoi: parsing "x": invalid syntax'),
    ("?id=0", "One or more IDs are invalid: 0 is not a valid ID"),
])
async def test_delete_many_refuses_bad_ids(
    api: httpx.AsyncClient, query: str, message: str
) -> None:
    response = await api.delete(f"/api/subscribers{query}")
    assert (response.status_code, response.json()) == (400, {"message": message})


# --- update, patch, opt-in ------------------------------------------------------------------

async def test_put_replaces_profile_and_lists(api: httpx.AsyncClient) -> None:
    old, new = await make_list(api), await make_list(api, optin="double")
    confirmed = await make_list(api)
    sub = await create(api, name="Old Name", lists=[old["id"], confirmed["id"]],
                       attribs={"a": 1})
    await api.put("/api/subscribers/lists", json={
        "ids": [sub["id"]], "action": "add", "target_list_ids": [confirmed["id"]],
        "status": "confirmed"})
    email = unique_email("new")
    response = await api.put(f"/api/subscribers/{sub['id']}", json={
        "email": email.upper(), "name": " New Name ", "status": "disabled",
        "lists": [new["id"], confirmed["id"]]})
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert updated == await get(api, sub["id"])
    assert (updated["email"], updated["name"], updated["status"], updated["attribs"]) == (
        email, "New Name", "disabled", {})
    assert statuses(updated) == {new["id"]: "unconfirmed", confirmed["id"]: "confirmed"}
    assert updated["created_at"] == sub["created_at"] and updated["updated_at"] > sub["updated_at"]
    assert (await get_list(api, old["id"]))["subscriber_count"] == 0
    # The old address is free again; the new one is taken.
    await create(api, email=sub["email"])
    response = await api.post("/api/subscribers", json={"email": email})
    assert response.status_code == 409


async def test_put_keeps_empty_name_and_status_and_refuses_bad_input(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    sub = await create(api, name="Keep Me", status="disabled")
    response = await api.put(f"/api/subscribers/{sub['id']}",
                             json={"email": sub["email"], "name": ""})
    kept = response.json()["data"]
    assert (kept["name"], kept["status"]) == ("Keep Me", "disabled")
    other = await create(api)
    before = await event_count(runtime)
    for body, status, message in [
        ({"email": other["email"]}, 409, "E-mail already exists."),
        ({"email": "bad"}, 400, "Invalid email."),
        ({"name": "x"}, 400, "Invalid email."),
        ({"email": sub["email"], "name": "n" * 2001}, 400, "Invalid name."),
    ]:
        response = await api.put(f"/api/subscribers/{sub['id']}", json=body)
        assert (response.status_code, response.json()) == (status, {"message": message})
    assert await event_count(runtime) == before
    response = await api.put("/api/subscribers/999999999", json={"email": unique_email()})
    assert (response.status_code, response.json()) == (404, {"message": "Subscriber not found"})


async def test_patch_changes_only_what_is_sent(api: httpx.AsyncClient) -> None:
    listed = await make_list(api)
    sub = await create(api, name="Pat", lists=[listed["id"]], attribs={"a": 1, "b": 2})
    response = await api.patch(f"/api/subscribers/{sub['id']}",
                               json={"attribs": {"b": 3, "c": 4}})
    assert response.status_code == 200, response.text
    patched = response.json()["data"]
    assert (patched["email"], patched["name"], patched["attribs"]) == (
        sub["email"], "Pat", {"a": 1, "b": 3, "c": 4})
    assert statuses(patched) == statuses(sub)
    patched = (await api.patch(f"/api/subscribers/{sub['id']}",
                               json={"name": "Patricia", "lists": []})).json()["data"]
    assert (patched["name"], patched["lists"], patched["attribs"]) == (
        "Patricia", [], {"a": 1, "b": 3, "c": 4})
    patched = (await api.patch(f"/api/subscribers/{sub['id']}",
                               json={"attribs": None})).json()["data"]
    assert patched["attribs"] == {}


async def test_optin_records_a_request_for_double_optin_lists(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    double = await make_list(api, optin="double")
    sub = await create(api, lists=[double["id"]])
    response = await api.post(f"/api/subscribers/{sub['id']}/optin", json={})
    assert response.json() == {"data": True}
    requested = await scalar(
        runtime, "SELECT count(*) FROM eventlog.events WHERE stream_id = %s"
        " AND type = 'subscriber.optin_requested'", f"subscriber-{sub['id']}")
    assert requested == 2  # one on creation, one asked for
    response = await api.post("/api/subscribers/999999999/optin", json={})
    assert response.status_code == 404


async def test_endpoints_need_credentials(anon: httpx.AsyncClient) -> None:
    for method, path in [("GET", "/api/subscribers/1"), ("POST", "/api/subscribers"),
                         ("PUT", "/api/subscribers/1"), ("PATCH", "/api/subscribers/1"),
                         ("DELETE", "/api/subscribers/1"), ("PUT", "/api/subscribers/lists"),
                         ("PUT", "/api/subscribers/blocklist"),
                         ("PUT", "/api/subscribers/1/blocklist"),
                         ("POST", "/api/subscribers/1/optin")]:
        response = await anon.request(method, path)
        assert response.status_code == 403, (method, path)


# --- idempotency and rebuild ----------------------------------------------------------------

async def test_same_idempotency_key_gives_the_same_answer_and_one_subscriber(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"email": unique_email(), "name": "Once"}
    first = await api.post("/api/subscribers", json=body, headers=headers)
    before = await event_count(runtime)
    second = await api.post("/api/subscribers", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert await event_count(runtime) == before


async def test_rebuilding_the_projections_gives_the_same_answers(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    one, two = await make_list(api), await make_list(api, optin="double")
    kept = await create(api, lists=[one["id"], two["id"]], attribs={"k": [1, 2]})
    await api.put(f"/api/subscribers/{kept['id']}/blocklist")
    patched = await create(api, lists=[one["id"]])
    await api.patch(f"/api/subscribers/{patched['id']}", json={"name": "Renamed"})
    erased = await create(api, lists=[one["id"], two["id"]])
    await api.delete(f"/api/subscribers/{erased['id']}")
    subscribers = [await get(api, kept["id"]), await get(api, patched["id"])]
    lists = [await get_list(api, one["id"]), await get_list(api, two["id"])]
    await rebuild(runtime.settings, runtime.pool,
                  projection_by_name("subscribers", runtime.settings), progress=False)
    await rebuild(runtime.settings, runtime.pool, ListsProjection(), progress=False)
    assert [await get(api, kept["id"]), await get(api, patched["id"])] == subscribers
    assert [await get_list(api, one["id"]), await get_list(api, two["id"])] == lists
    assert (await api.get(f"/api/subscribers/{erased['id']}")).status_code == 404
    after = await create(api, lists=[one["id"]])  # the runner goes on after the swap
    assert (await get_list(api, one["id"]))["subscriber_count"] == lists[0][
        "subscriber_count"] + 1
    assert (await get(api, after["id"]))["email"] == after["email"]
