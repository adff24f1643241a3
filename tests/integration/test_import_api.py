"""Subscriber imports through HTTP: upload (CSV or ZIP), background progress, stop, log, one
import at a time, both modes, overwrite, and what the imported subscribers look like.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.store import head_position
from projections.waiter import ProjectionWaiter
from services.runtime import Runtime
from tests.integration.subscribers_support import (
    create,
    eventually,
    get,
    get_list,
    make_list,
    statuses,
)

IMPORT = "/api/import/subscribers"


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def zipped(name: str, content: bytes, *extra: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for extra_name, extra_content in extra:
            archive.writestr(extra_name, extra_content)
        archive.writestr(name, content)
    return buffer.getvalue()


async def upload(api: httpx.AsyncClient, content: bytes, filename: str = "subs.csv",
                 **params: Any) -> httpx.Response:
    params.setdefault("delim", ",")
    return await api.post(IMPORT, files={"file": (filename, content, "text/csv")},
                          data={"params": json.dumps(params)})


async def status(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get(IMPORT)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def logs(api: httpx.AsyncClient) -> str:
    response = await api.get(f"{IMPORT}/logs")
    assert response.status_code == 200, response.text
    text: str = response.json()["data"]
    return text


async def finished(api: httpx.AsyncClient, within: float = 60.0) -> dict[str, Any]:
    """The import's status once it is no longer running."""
    last: dict[str, Any] = {}

    async def done() -> bool:
        last.update(await status(api))
        return last["status"] not in ("importing", "stopping")

    await eventually(done, within)
    return last


async def imported(api: httpx.AsyncClient, content: bytes, filename: str = "subs.csv",
                   **params: Any) -> dict[str, Any]:
    response = await upload(api, content, filename, **params)
    assert response.status_code == 200, response.text
    return await finished(api)


async def reset(api: httpx.AsyncClient) -> None:
    if (await status(api))["status"] in ("importing", "stopping"):
        await api.delete(IMPORT)
        await finished(api)
    response = await api.delete(IMPORT)
    assert response.json() == {"data": {"name": "", "total": 0, "imported": 0,
                                        "status": "none"}}


@pytest.fixture(autouse=True)
async def no_import_running(api: httpx.AsyncClient) -> AsyncIterator[None]:
    await reset(api)
    yield
    await reset(api)


def domain() -> str:
    return f"d{uuid.uuid4().hex[:10]}.example.com"


async def subscriber_id(runtime: Runtime, email: str) -> int | None:
    async with runtime.read_pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id FROM readmodel.subscribers WHERE email = %s", (email,))
        row = await cur.fetchone()
    return int(row[0]) if row else None


async def projected(runtime: Runtime) -> None:
    """Wait until the read models caught up with everything in the log."""
    async with runtime.pool.connection() as conn:
        head = await head_position(conn)
    waiter = ProjectionWaiter(runtime.pool, 60.0)
    try:
        assert await waiter.wait(head, ("subscribers", "lists"))
    finally:
        await waiter.close()


async def visible(api: httpx.AsyncClient, runtime: Runtime, email: str) -> dict[str, Any]:
    """The subscriber with ``email`` as GET /api/subscribers/:id shows it."""
    sid = await subscriber_id(runtime, email)
    assert sid is not None, f"{email} was not imported"
    return await get(api, sid)


# --- a file with bad rows --------------------------------------------------------------------

async def test_bad_rows_are_logged_and_skipped(api: httpx.AsyncClient, runtime: Runtime) -> None:
    listed = await make_list(api)
    d = domain()
    old = await create(api, email=f"old@{d}", name="Old Name", attribs={"keep": True})
    content = csv_bytes(
        "email,name,attributes",
        f'ok.one@{d},One,"{{""city"":""Oslo""}}"',
        "not-an-email,Bad,",
        f"two.parts@{d},,",
        f"ok.three@{d},Three,{{broken",
        f"OK.ONE@{d},One Again,",
        f'old@{d},New Name,"{{""a"":1}}"',
        "short,row",
        f'  Spaced@{d}  ,  Spaced Name  ,"[1]"',
    )
    done = await imported(api, content, "people.csv", mode="subscribe", lists=[listed["id"]])
    assert done == {"name": "people.csv", "total": 8, "imported": 6, "status": "finished"}

    text = await logs(api)
    assert "processing 'people.csv'" in text
    assert "skipping line 2: Invalid email.\n" in text  # never the row (docs/import.md)
    assert "skipping invalid attributes JSON on line 4: " in text
    assert "skipping line 7. record on line 8: wrong number of fields" in text
    assert "skipping invalid attributes JSON on line 8: " in text
    assert d not in text and "not-an-email" not in text
    assert text.rstrip().endswith("imported finished")

    await projected(runtime)
    one = await visible(api, runtime, f"ok.one@{d}")
    assert (one["name"], one["attribs"], one["status"]) == ("One", {"city": "Oslo"}, "enabled")
    assert statuses(one) == {listed["id"]: "unconfirmed"}
    assert (await visible(api, runtime, f"two.parts@{d}"))["name"] == "Two Parts"
    assert (await visible(api, runtime, f"ok.three@{d}"))["attribs"] == {}
    assert (await visible(api, runtime, f"spaced@{d}"))["name"] == "Spaced Name"
    again = await get(api, old["id"])  # existing e-mail, no overwrite: profile kept, list added
    assert (again["name"], again["attribs"]) == ("Old Name", {"keep": True})
    assert statuses(again) == {listed["id"]: "unconfirmed"}
    counted = await get_list(api, listed["id"])
    assert counted["subscriber_count"] == 5
    assert counted["subscriber_statuses"] == {"unconfirmed": 5}


async def test_a_zip_holding_a_csv_is_imported(api: httpx.AsyncClient, runtime: Runtime) -> None:
    listed = await make_list(api)
    d = domain()
    content = zipped("inner.csv", csv_bytes("name,email", f"Zed,zed@{d}", f"Amy,amy@{d}"),
                     ("docs/", b""), ("readme.txt", b"hello"))
    done = await imported(api, content, "upload.zip", mode="subscribe", lists=[listed["id"]],
                          subscription_status="confirmed")
    assert done == {"name": "upload.zip", "total": 2, "imported": 2, "status": "finished"}
    text = await logs(api)
    for line in ("skipping directory 'docs'", "skipping non .csv file 'readme.txt'",
                 "extracting 'inner.csv'", "extracted 'inner.csv'"):
        assert line in text
    await projected(runtime)
    zed = await visible(api, runtime, f"zed@{d}")
    assert (zed["name"], statuses(zed)) == ("Zed", {listed["id"]: "confirmed"})
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT type, data->>'name' FROM eventlog.events WHERE category = 'import'"
            " AND stream_id = (SELECT stream_id FROM eventlog.events WHERE type ="
            " 'import.started' ORDER BY global_position DESC LIMIT 1) ORDER BY version")
        assert await cur.fetchall() == [("import.started", "upload.zip"),
                                        ("import.finished", None)]


async def test_a_bad_zip_fails_the_import(api: httpx.AsyncClient) -> None:
    response = await upload(api, b"not a zip", "upload.zip", mode="blocklist")
    assert (response.status_code, response.json()) == (
        400, {"message": "Error processing ZIP file: zip: not a valid zip file"})
    assert (await status(api))["status"] == "failed"
    await reset(api)
    response = await upload(api, zipped("notes.txt", b"x"), "upload.zip", mode="blocklist")
    assert (response.status_code, response.json()) == (
        400, {"message": "Error processing ZIP file: no CSV files found in the ZIP"})
    assert "no CSV files found in the ZIP" in await logs(api)


@pytest.mark.parametrize("delim", [";", "\t", "|"])
async def test_the_delimiter_is_respected(api: httpx.AsyncClient, runtime: Runtime,
                                          delim: str) -> None:
    d = domain()
    content = csv_bytes(delim.join(["email", "name", "attributes"]),
                        delim.join([f"semi@{d}", "Semi, Colon", '{"n": 1}']))
    done = await imported(api, content, mode="blocklist", delim=delim)
    assert (done["imported"], done["status"]) == (1, "finished")
    await projected(runtime)
    semi = await visible(api, runtime, f"semi@{d}")
    assert (semi["name"], semi["attribs"]) == ("Semi, Colon", {"n": 1})


async def test_file_without_email_column_or_empty_fails(api: httpx.AsyncClient) -> None:
    done = await imported(api, csv_bytes("name,mail", "a,b@example.com"), "x.csv",
                          mode="blocklist")
    assert done["status"] == "failed"
    text = await logs(api)
    assert "ignoring unknown header 'mail'" in text
    assert "'email' column not found in 'x.csv'" in text
    await reset(api)
    assert (await imported(api, b"", "empty.csv", mode="blocklist"))["status"] == "failed"


# --- modes and overwrite ----------------------------------------------------------------------

async def test_overwrite_replaces_profile_and_subscription_status(
    api: httpx.AsyncClient, runtime: Runtime,
) -> None:
    one, two = await make_list(api), await make_list(api)
    d = domain()
    kept = await create(api, email=f"kept@{d}", name="Kept", lists=[one["id"]])
    over = await create(api, email=f"over@{d}", name="Over", lists=[one["id"]])
    blocked = await create(api, email=f"blocked@{d}", status="blocklisted")
    lists = [one["id"], two["id"]]
    await imported(api, csv_bytes("email,name", f"kept@{d},Kept New", f"blocked@{d},B"),
                   mode="subscribe", lists=lists, subscription_status="confirmed")
    await imported(api, csv_bytes("email,name,attributes", f'over@{d},Over New,"{{""x"":1}}"'),
                   mode="subscribe", lists=lists, subscription_status="confirmed",
                   overwrite=True)
    await projected(runtime)
    after_kept = await get(api, kept["id"])
    assert after_kept["name"] == "Kept"
    assert statuses(after_kept) == {one["id"]: "unconfirmed", two["id"]: "confirmed"}
    after_over = await get(api, over["id"])
    assert (after_over["name"], after_over["attribs"]) == ("Over New", {"x": 1})
    assert statuses(after_over) == {one["id"]: "confirmed", two["id"]: "confirmed"}
    after_blocked = await get(api, blocked["id"])
    assert after_blocked["status"] == "blocklisted"
    assert statuses(after_blocked) == {one["id"]: "unsubscribed", two["id"]: "unsubscribed"}
    assert (await get_list(api, two["id"]))["subscriber_statuses"] == {
        "confirmed": 2, "unsubscribed": 1}


async def test_overwrite_userinfo_alone_keeps_subscription_status(
    api: httpx.AsyncClient, runtime: Runtime,
) -> None:
    listed = await make_list(api)
    d = domain()
    sub = await create(api, email=f"info@{d}", name="Info", lists=[listed["id"]])
    await imported(api, csv_bytes("email,name", f"info@{d},"), mode="subscribe",
                   lists=[listed["id"]], subscription_status="confirmed",
                   overwrite_userinfo=True)
    await projected(runtime)
    after = await get(api, sub["id"])
    assert (after["name"], statuses(after)) == ("Info", {listed["id"]: "unconfirmed"})


async def test_blocklist_mode(api: httpx.AsyncClient, runtime: Runtime) -> None:
    listed = await make_list(api)
    d = domain()
    sub = await create(api, email=f"member@{d}", name="Member", lists=[listed["id"]],
                       preconfirm_subscriptions=True)
    done = await imported(api, csv_bytes("email,name", f"member@{d},Other",
                                         f"fresh@{d},Fresh"),
                          mode="blocklist", lists=[listed["id"]])
    assert done["imported"] == 2
    await projected(runtime)
    member = await get(api, sub["id"])
    assert (member["status"], member["name"]) == ("blocklisted", "Member")
    assert statuses(member) == {listed["id"]: "unsubscribed"}
    fresh = await visible(api, runtime, f"fresh@{d}")
    assert (fresh["status"], fresh["lists"]) == ("blocklisted", [])
    assert (await get_list(api, listed["id"]))["subscriber_statuses"] == {"unsubscribed": 1}


# --- progress, stop, one at a time ------------------------------------------------------------

def many(count: int, d: str) -> bytes:
    return csv_bytes("email,name", *(f"user{i}@{d},User {i}" for i in range(count)))


async def test_progress_is_counted_per_batch(api: httpx.AsyncClient, runtime: Runtime) -> None:
    listed = await make_list(api)
    seen: list[int] = []
    response = await upload(api, many(5000, domain()), mode="subscribe", lists=[listed["id"]])
    assert response.json()["data"]["status"] == "importing"

    async def done() -> bool:
        current = await status(api)
        seen.append(current["imported"])
        return current["status"] not in ("importing", "stopping")

    await eventually(done, within=60)
    assert (await status(api))["status"] == "finished", await logs(api)
    assert seen == sorted(seen) and seen[-1] == 5000
    assert (await status(api))["total"] == 5000
    text = await logs(api)
    assert "imported 2000\n" in text and "imported 4000\n" in text and "imported 5000\n" in text
    await projected(runtime)
    assert (await get_list(api, listed["id"]))["subscriber_count"] == 5000


async def test_stop_and_one_import_at_a_time(api: httpx.AsyncClient) -> None:
    response = await upload(api, many(30000, domain()), "big.csv", mode="blocklist")
    assert response.status_code == 200
    second = await upload(api, many(1, domain()), mode="blocklist")
    assert (second.status_code, second.json()) == (400, {"message": (
        "An import is already running. Wait for it to finish or stop it before trying again.")})
    stopping = await api.delete(IMPORT)
    assert stopping.json()["data"]["status"] == "stopping"
    done = await finished(api)
    assert done["status"] == "finished" and done["name"] == "big.csv"
    assert 0 < done["imported"] < done["total"] == 30000
    assert "stop request received" in await logs(api)
    cleared = await api.delete(IMPORT)
    assert cleared.json()["data"] == {"name": "", "total": 0, "imported": 0, "status": "none"}
    assert await logs(api) == ""


# --- request errors ---------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "code", "message"), [
    (None, 400, "Invalid params: unexpected end of JSON input"),
    ('{"mode": 1}', 400, "Invalid params: json: cannot unmarshal number into Go struct field"
                         " SessionOpt.mode of type string"),
    ('{"mode": "subscribe"}', 403, "Permission denied: lists"),
    ('{"mode": "nope", "lists": [1]}', 400, "Invalid mode"),
    ('{"mode": "blocklist", "subscription_status": "x"}', 400, "Invalid subscription status"),
    ('{"mode": "blocklist", "delim": ";;"}', 400, "Delimiter should be a single character."),
    ('{"mode": "blocklist"}', 400, "Delimiter should be a single character."),
])
async def test_invalid_requests_get_listmonk_errors(
    api: httpx.AsyncClient, params: str | None, code: int, message: str
) -> None:
    data = {} if params is None else {"params": params}
    response = await api.post(IMPORT, files={"file": ("a.csv", b"email\n", "text/csv")},
                              data=data)
    assert (response.status_code, response.json()) == (code, {"message": message})
    assert (await status(api))["status"] == "none"


async def test_missing_file_and_anonymous(api: httpx.AsyncClient,
                                          anon: httpx.AsyncClient) -> None:
    response = await api.post(IMPORT, files={"other": ("a.csv", b"x", "text/csv")},
                              data={"params": '{"mode": "blocklist", "delim": ","}'})
    assert (response.status_code, response.json()) == (
        400, {"message": "Invalid file: http: no such file"})
    for call in (anon.get(IMPORT), anon.get(f"{IMPORT}/logs"), anon.delete(IMPORT)):
        assert (await call).status_code == 403


async def test_an_abandoned_import_reads_failed_and_is_replaced(
    api: httpx.AsyncClient, runtime: Runtime,
) -> None:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE eventlog.imports SET import_id = gen_random_uuid(), name = 'lost.csv',"
            " status = 'importing', heartbeat_at = now() - interval '5 minutes'"
            " WHERE slot = 1 RETURNING import_id::text")
        row = await cur.fetchone()
    assert row is not None
    assert (await status(api))["status"] == "failed"
    done = await imported(api, csv_bytes("email", f"x@{domain()}"), mode="blocklist")
    assert (done["status"], done["imported"]) == ("finished", 1)
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT data->>'reason' FROM eventlog.events WHERE type = 'import.failed'"
            " AND data->>'import_id' = %s", (row[0],))
        assert await cur.fetchall() == [("import abandoned: the process running it stopped",)]
