"""Reading many subscribers through HTTP: ``GET /api/subscribers`` with the query language,
lists, search, order and pages, the hostile queries it refuses, and the CSV export.

The database is shared by the session, so each test scopes its reads to its own lists or to
attribute values only it uses.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest

from services.runtime import Runtime
from tests.integration.subscribers_support import (
    SUBSCRIBER_KEYS,
    SUBSCRIPTION_KEYS,
    create,
    event_count,
    make_list,
    scalar,
    unique_email,
)

PREFIX = "Error preparing subscriber query: "


async def listing(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/subscribers", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def ids(page: dict[str, Any]) -> list[int]:
    return [s["id"] for s in page["results"]]


async def test_a_lists_subscribers_come_in_pages_of_listmonks_envelope(
    api: httpx.AsyncClient,
) -> None:
    listed = await make_list(api)
    subs = [await create(api, lists=[listed["id"]]) for _ in range(3)]
    newest_first = sorted((s["id"] for s in subs), reverse=True)
    first = await listing(api, list_id=listed["id"], page=1, per_page=2)
    assert list(first) == ["results", "search", "query", "total", "per_page", "page"]
    assert (first["total"], first["per_page"], first["page"], first["query"],
            first["search"]) == (3, 2, 1, "", "")
    assert ids(first) == newest_first[:2]
    assert list(first["results"][0]) == SUBSCRIBER_KEYS
    [subscription] = first["results"][0]["lists"]
    assert list(subscription) == SUBSCRIPTION_KEYS and subscription["id"] == listed["id"]
    assert first["results"][0] == next(s for s in subs if s["id"] == newest_first[0])
    second = await listing(api, list_id=listed["id"], page=2, per_page=2)
    assert ids(second) == newest_first[2:] and second["total"] == 3
    everything = await listing(api, list_id=listed["id"], per_page="all")
    assert (ids(everything), everything["per_page"]) == (newest_first, 0)
    beyond = await listing(api, list_id=listed["id"], page=9, per_page=2)
    assert (beyond["results"], beyond["total"]) == ([], 3)


async def test_the_seed_page_examples(api: httpx.AsyncClient, runtime: Runtime) -> None:
    one, two = await make_list(api), await make_list(api)
    both = await create(api, lists=[one["id"], two["id"]])
    only_two = await create(api, lists=[two["id"]])
    test_city = await create(api, name="Test User", lists=[one["id"]],
                             attribs={"city": "Bengaluru"})
    test_other = await create(api, name="Test Other", lists=[one["id"]],
                              attribs={"city": "Delhi"})

    page = await listing(api, page=1, per_page=100)
    assert page["total"] == await scalar(runtime, "SELECT count(*) FROM readmodel.subscribers")
    assert len(page["results"]) == min(100, page["total"]) and page["per_page"] == 100
    # A subscriber of both lists appears once (listmonk would repeat it).
    page = await listing(api, list_id=[one["id"], two["id"]], page=1, per_page=100)
    assert ids(page) == sorted([both["id"], only_two["id"], test_city["id"], test_other["id"]],
                               reverse=True)
    assert page["total"] == 4
    query = "subscribers.name LIKE 'Test%' AND subscribers.attribs->>'city' = 'Bengaluru'"
    page = await listing(api, list_id=one["id"], page=1, per_page=100, query=query)
    assert (ids(page), page["total"], page["query"]) == ([test_city["id"]], 1, query)


async def test_the_expressions_real_clients_send(api: httpx.AsyncClient) -> None:
    listed, other = await make_list(api), await make_list(api)
    city = f"City-{uuid.uuid4().hex[:8]}"
    tom = await create(api, name="Tom", lists=[listed["id"]], attribs={"city": city, "n": 3})
    tina = await create(api, name="Tina", lists=[listed["id"], other["id"]],
                        preconfirm_subscriptions=True, attribs={"city": city, "n": 7})
    bob = await create(api, name="Bob", lists=[listed["id"]], attribs={"city": "Elsewhere"})
    cases = {
        f"subscribers.email='{tom['email']}'": [tom],
        f"subscribers.email = '{tom['email'].upper()}'": [],
        f"subscribers.id = {bob['id']}": [bob],
        f"subscribers.uuid = '{tina['uuid']}'": [tina],
        f"subscribers.attribs->>'city'='{city}'": [tina, tom],
        f"subscribers.attribs->>'city' = '{city}' AND (subscribers.attribs->>'n')::int > 5":
            [tina],
        "subscribers.name LIKE 'T%'": [tina, tom],
        "subscribers.name ILIKE 'b%';": [bob],
        f"subscribers.id IN (SELECT subscriber_id FROM subscriber_lists WHERE list_id = "
        f"{other['id']} AND status = 'confirmed')": [tina],
        f"subscribers.attribs @> '{{\"city\": \"{city}\"}}'": [tina, tom],
        "subscribers.status = 'enabled' AND subscribers.created_at > NOW() - INTERVAL '1 day'":
            [bob, tina, tom],
    }
    for query, expected in cases.items():
        page = await listing(api, list_id=listed["id"], query=query, per_page="all")
        assert ids(page) == [s["id"] for s in expected], query
        assert page["total"] == len(expected) and page["query"] == query.rstrip(";")
    # listmonk's joined subscriber_lists columns work with list_id (and match nothing without).
    page = await listing(api, list_id=listed["id"], per_page="all",
                         query="subscriber_lists.status = 'confirmed'")
    assert ids(page) == [tina["id"]]
    page = await listing(api, per_page="all", query=f"subscribers.id = {tina['id']} AND "
                         "subscriber_lists.status = 'confirmed'")
    assert (ids(page), page["total"]) == ([], 0)


async def test_many_matches_are_counted_and_paged_in_order(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from readmodels import subscriber_listing as listing_module

    monkeypatch.setattr(listing_module, "FEW_MATCHES", 1)  # as if the selection were large
    listed = await make_list(api)
    subs = [await create(api, name=f"Many {i}", lists=[listed["id"]]) for i in range(3)]
    query = "subscribers.name LIKE 'Many %'"
    first = await listing(api, list_id=listed["id"], query=query, per_page=2, order_by="name",
                          order="asc")
    second = await listing(api, list_id=listed["id"], query=query, per_page=2, page=2,
                           order_by="name", order="asc")
    assert (first["total"], second["total"]) == (3, 3)
    assert ids(first) + ids(second) == [s["id"] for s in subs]


async def test_few_matches_pages_equal_the_counted_pages(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-scan path (the page sliced from the matching ids) answers exactly what the
    counted path answers, in every order and on every page."""
    from readmodels import subscriber_listing as listing_module

    listed = await make_list(api)
    for i in (3, 1, 4, 0, 2):
        await create(api, name=f"Few {i}", lists=[listed["id"]])
    query = "subscribers.name LIKE 'Few %'"
    views = [(order_by, order, page) for order_by in ("id", "name") for order in ("asc", "desc")
             for page in (1, 2, 3)]

    async def pages() -> list[tuple[int, list[int]]]:
        found = []
        for order_by, order, page in views:
            got = await listing(api, list_id=listed["id"], query=query, per_page=2, page=page,
                                order_by=order_by, order=order)
            found.append((got["total"], ids(got)))
        return found

    few = await pages()
    monkeypatch.setattr(listing_module, "FEW_MATCHES", 1)  # now counted, pages read in order
    assert few == await pages()
    assert few[0][0] == 5 and few[0][1] == sorted(few[0][1]) and few[3][1] == sorted(
        few[3][1], reverse=True)
    assert [len(p) for _, p in few[:3]] == [2, 2, 1]


async def test_search_order_and_subscription_status(api: httpx.AsyncClient) -> None:
    listed = await make_list(api)
    anna = await create(api, name="Anna Zed", email=unique_email("zulu"), lists=[listed["id"]])
    carl = await create(api, name="carl", email=unique_email("MIXEDcase"), lists=[listed["id"]],
                        preconfirm_subscriptions=True)
    bert = await create(api, name="Bert", email=unique_email("alpha"), lists=[listed["id"]])
    page = await listing(api, list_id=listed["id"], search="ANNA")
    assert (ids(page), page["search"]) == ([anna["id"]], "ANNA")
    assert ids(await listing(api, list_id=listed["id"], search="mixedCASE")) == [carl["id"]]
    page = await listing(api, list_id=listed["id"], order_by="name", order="asc")
    assert ids(page) == [anna["id"], bert["id"], carl["id"]]
    page = await listing(api, list_id=listed["id"], order_by="email", order="desc")
    assert ids(page) == [anna["id"], carl["id"], bert["id"]]
    page = await listing(api, list_id=listed["id"], order_by="bogus", order="asc")
    assert ids(page) == sorted(ids(page))
    page = await listing(api, list_id=listed["id"], subscription_status="confirmed")
    assert (ids(page), page["total"]) == ([carl["id"]], 1)
    page = await listing(api, list_id=listed["id"], subscription_status="unconfirmed")
    assert (sorted(ids(page)), page["total"]) == (sorted([anna["id"], bert["id"]]), 2)
    response = await api.get("/api/subscribers", params={"search": "(unclosed"})
    assert response.status_code == 400 and response.json()["message"].startswith(PREFIX)


@pytest.mark.parametrize("query", [
    "1=1; DROP TABLE readmodel.subscribers",
    "pg_sleep(5) IS NULL",
    "(SELECT count(*) FROM eventlog.subscriber_keys) > 0",
    "subscribers.id IN (SELECT oid::int FROM pg_catalog.pg_class)",
    "x') OR ('1'='1",
    "subscribers.email = current_setting('server_version')",
    "TRUE) UNION SELECT * FROM readmodel.subscribers --",
    "set_config('statement_timeout', '0', false) = ''",
])
async def test_hostile_queries_are_400_and_change_nothing(
    api: httpx.AsyncClient, runtime: Runtime, query: str
) -> None:
    before = (await event_count(runtime),
              await scalar(runtime, "SELECT count(*) FROM readmodel.subscribers"))
    response = await api.get("/api/subscribers", params={"query": query})
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(PREFIX)
    assert len(response.json()["message"]) > len(PREFIX)
    export = await api.get("/api/subscribers/export", params={"query": query})
    assert export.status_code == 400 and export.json()["message"].startswith(PREFIX)
    assert before == (await event_count(runtime),
                      await scalar(runtime, "SELECT count(*) FROM readmodel.subscribers"))


async def test_bad_parameters_are_400(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/subscribers", params={"list_id": "abc"})
    assert (response.status_code, response.json()) == (400, {"message": "Invalid ID(s)"})
    response = await api.get("/api/subscribers", params={"subscription_status": "nope"})
    assert response.status_code == 400


async def test_csv_export_streams_listmonks_columns(api: httpx.AsyncClient) -> None:
    listed = await make_list(api)
    plain = await create(api, name="Plain", lists=[listed["id"]], attribs={"city": "Pune"})
    tricky = await create(api, name='Doe, "J"', lists=[listed["id"]])
    await create(api, name="Not listed")
    response = await api.get("/api/subscribers/export", params={"list_id": listed["id"]})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == "attachment; filename=subscribers.csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["uuid", "email", "name", "attributes", "status", "created_at",
                       "updated_at"]
    assert [r[0] for r in rows[1:]] == [plain["uuid"], tricky["uuid"]]
    assert rows[1][1:5] == [plain["email"], "Plain", '{"city": "Pune"}', "enabled"]
    assert rows[2][2] == 'Doe, "J"' and '"Doe, ""J"""' in response.text
    assert rows[1][5].endswith(" +0000 UTC") and rows[1][5][:10] == plain["created_at"][:10]
    response = await api.get("/api/subscribers/export",
                             params={"list_id": listed["id"], "id": tricky["id"]})
    assert [r[0] for r in csv.reader(io.StringIO(response.text))][1:] == [tricky["uuid"]]
    response = await api.get("/api/subscribers/export", params={
        "list_id": listed["id"], "query": "subscribers.name = 'Plain'"})
    assert [r[2] for r in csv.reader(io.StringIO(response.text))][1:] == ["Plain"]


async def test_csv_export_pages_through_more_than_one_batch(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.query_api.subscribers import routes

    monkeypatch.setattr(routes, "EXPORT_BATCH", 2)
    listed = await make_list(api)
    subs = [await create(api, lists=[listed["id"]]) for _ in range(5)]
    response = await api.get("/api/subscribers/export", params={"list_id": listed["id"]})
    rows = list(csv.reader(io.StringIO(response.text)))
    assert [r[1] for r in rows[1:]] == [s["email"] for s in subs]


async def test_static_routes_are_not_read_as_ids(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/subscribers/abc")
    assert (response.status_code, response.json()) == (400, {"message": "invalid ID"})
    response = await api.get("/api/subscribers/export", params={"id": 999999999})
    assert response.status_code == 200 and response.text.count("\n") == 1


async def test_reading_needs_credentials(anon: httpx.AsyncClient) -> None:
    for path in ("/api/subscribers", "/api/subscribers/export", "/api/subscribers/1/export",
                 "/api/subscribers/1/bounces", "/api/subscribers/1/activity"):
        assert (await anon.get(path)).status_code == 403, path
