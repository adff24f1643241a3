"""Erasure reaches every table holding personal data (docs/crypto-shredding.md), beyond the
subscriber's own events and read models (``test_subscribers_api.py``): import logs, tx
attachments, keys of messages sent to the address, and stored idempotent answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.message_storage import AttachmentErased, AttachmentMissing
from events.messages import TxMessageQueued
from services.command_api.erasure import ERASED_STATUS, erase_address
from services.command_api.executor import store_response
from services.command_api.subscribers.index import email_hash
from services.command_api.templates.seed import ensure_default_templates
from services.runtime import Runtime
from tests.integration.messages_support import (
    correlated,
    make_template,
    open_attachments,
    open_queued,
    queued,
)
from tests.integration.subscribers_support import (
    create,
    event_count,
    make_list,
    scalar,
    unique_email,
)
from tests.integration.test_import_api import imported, logs, reset

Row = dict[str, Any]


def secret(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


async def delete(api: httpx.AsyncClient, subscriber_id: int) -> None:
    response = await api.delete(f"/api/subscribers/{subscriber_id}")
    assert (response.status_code, response.json()) == (200, {"data": True})


# --- import logs ------------------------------------------------------------------------------

@pytest.fixture
async def no_import_running(api: httpx.AsyncClient) -> AsyncIterator[None]:
    await reset(api)
    yield
    await reset(api)


async def raw_import_log(runtime: Runtime) -> str:
    return str(await scalar(runtime, "SELECT coalesce(string_agg(line, E'\\n' ORDER BY seq), '')"
                                     " FROM eventlog.import_logs"))


async def test_import_log_lines_name_no_one(
        api: httpx.AsyncClient, runtime: Runtime, no_import_running: None) -> None:
    d = f"{secret('d')}.example.com"
    email, name, attrs = f"kept.{secret('x')}@{d}", secret("Name"), secret("broken")
    bad_name, bad_city = secret("Hidden"), secret("City")
    content = "\n".join([
        "email,name,attributes",
        f"{email},{name},{{{attrs}",                                   # imported, logged
        f'bad-address-{bad_name},{bad_name},"{{""city"":""{bad_city}""}}"',  # skipped
        f"{secret('short')},row",                                      # skipped
    ]).encode() + b"\n"
    listed = await make_list(api)
    done = await imported(api, content, "people.csv", mode="subscribe", lists=[listed["id"]])
    assert (done["total"], done["imported"], done["status"]) == (3, 1, "finished")
    sid = await scalar(runtime, "SELECT subscriber_id FROM eventlog.subscriber_emails"
                                " WHERE email_hash = %s", email_hash(email))

    secrets = (email, d, name, attrs, bad_name, bad_city, "short")
    for text in (await logs(api), await raw_import_log(runtime)):
        assert "skipping invalid attributes JSON on line 1: " in text
        assert "skipping line 2: Invalid email.\n" in text
        assert "skipping line 3. record on line 4: wrong number of fields" in text
        assert not [s for s in secrets if s in text], text

    await delete(api, sid)
    for text in (await logs(api), await raw_import_log(runtime)):
        assert not [s for s in secrets if s in text], text
    assert await scalar(runtime, "SELECT count(*) FROM eventlog.import_logs WHERE line ILIKE %s"
                                 " OR line ILIKE %s", f"%{email}%", f"%{bad_name}%") == 0


# --- transactional messages: attachments and message keys --------------------------------------

@pytest.fixture
async def template(api: httpx.AsyncClient, runtime: Runtime) -> Row:
    await ensure_default_templates(runtime.pool)
    return await make_template(api, subject="Your file", body="<p>{{ .Subscriber.Email }}</p>")


async def send_with_file(api: httpx.AsyncClient, template: Row, file_name: str,
                         content: bytes, idempotency_key: str = "",
                         **recipients: Any) -> tuple[str, httpx.Response]:
    cid, headers = correlated()
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    data = {"template_id": template["id"], **recipients}
    response = await api.post("/api/tx", headers=headers, data={"data": json.dumps(data)},
                              files=[("file", (file_name, content, "application/pdf"))])
    return cid, response


async def tx_messages(runtime: Runtime, cid: str) -> list[TxMessageQueued]:
    found = [event for event, _ in await queued(runtime, cid)]
    assert all(isinstance(e, TxMessageQueued) for e in found)
    return [e for e in found if isinstance(e, TxMessageQueued)]


async def plaintext_rows(runtime: Runtime, file_name: str, content: bytes) -> int:
    """Rows of the attachment tables (and events) in which the file's name or bytes can be
    read."""
    return int(await scalar(
        runtime,
        "SELECT (SELECT count(*) FROM eventlog.attachments WHERE name ILIKE %s"
        "        OR position(%s::bytea in content) > 0)"
        " + (SELECT count(*) FROM eventlog.attachment_keys WHERE position(%s::bytea in"
        "        coalesce(sealed_key, ''::bytea)) > 0)"
        " + (SELECT count(*) FROM eventlog.events WHERE category = 'message'"
        "        AND data::text ILIKE %s)",
        f"%{file_name}%", content, content, f"%{file_name}%"))


async def file_rows(runtime: Runtime, event: TxMessageQueued) -> tuple[int, int]:
    """(attachment rows, access rows of this message) of the message's first file."""
    attachment_id = event.attachments[0].attachment_id
    files = await scalar(runtime, "SELECT count(*) FROM eventlog.attachments"
                                  " WHERE attachment_id = %s", attachment_id)
    grants = await scalar(runtime, "SELECT count(*) FROM eventlog.attachment_keys"
                                   " WHERE attachment_id = %s AND message_id = %s",
                          attachment_id, event.message_id)
    return int(files), int(grants)


async def test_an_attachment_is_sealed_and_goes_with_its_recipient(
        api: httpx.AsyncClient, runtime: Runtime, template: Row) -> None:
    sub = await create(api)
    file_name, content = f"{secret('payslip-')}.pdf", secret("SALARY-").encode() * 50
    cid, response = await send_with_file(api, template, file_name, content,
                                         subscriber_id=sub["id"])
    assert response.status_code == 200, response.text
    [message] = await tx_messages(runtime, cid)
    [opened] = await open_attachments(runtime, message)
    assert (opened.name, opened.content) == (file_name, content)
    assert await plaintext_rows(runtime, file_name, content) == 0  # sealed from the start

    await delete(api, sub["id"])
    assert await plaintext_rows(runtime, file_name, content) == 0
    assert await file_rows(runtime, message) == (0, 0)
    with pytest.raises(AttachmentMissing):
        await open_attachments(runtime, message)


async def test_erasing_one_recipient_keeps_the_file_for_the_other(
        api: httpx.AsyncClient, runtime: Runtime, template: Row) -> None:
    first, second = await create(api), await create(api)
    file_name, content = f"{secret('shared-')}.pdf", secret("SHARED-").encode()
    cid, response = await send_with_file(api, template, file_name, content,
                                         subscriber_ids=[first["id"], second["id"]])
    assert response.status_code == 200, response.text
    mine, theirs = await tx_messages(runtime, cid)
    assert (mine.subscriber_id, theirs.subscriber_id) == (first["id"], second["id"])
    assert mine.attachments == theirs.attachments  # one copy of the bytes

    await delete(api, first["id"])
    with pytest.raises(AttachmentErased):
        await open_attachments(runtime, mine)
    [opened] = await open_attachments(runtime, theirs)
    assert (opened.name, opened.content) == (file_name, content)
    assert await file_rows(runtime, mine) == (1, 0)
    assert await plaintext_rows(runtime, file_name, content) == 0

    await delete(api, second["id"])
    assert await file_rows(runtime, theirs) == (0, 0)


async def test_messages_sent_to_the_address_as_a_stranger_go_with_the_subscriber(
        api: httpx.AsyncClient, runtime: Runtime, template: Row) -> None:
    sub = await create(api)
    file_name, content = f"{secret('external-')}.pdf", secret("EXTERNAL-").encode()
    cid, response = await send_with_file(api, template, file_name, content,
                                         subscriber_mode="external",
                                         subscriber_emails=[sub["email"].upper()])
    assert response.status_code == 200, response.text
    [message] = await tx_messages(runtime, cid)
    assert message.subscriber_id is None and await open_queued(runtime, message) is not None

    await delete(api, sub["id"])
    assert await open_queued(runtime, message) is None  # its message key was destroyed
    assert await scalar(runtime, "SELECT count(*) FROM eventlog.message_keys"
                                 " WHERE message_id = %s", message.message_id) == 0
    assert await file_rows(runtime, message) == (0, 0)


async def test_erasing_an_address_clears_its_messages_files_and_answers(
        api: httpx.AsyncClient, runtime: Runtime, template: Row) -> None:
    stranger, key = unique_email("stranger"), uuid.uuid4().hex
    file_name, content = f"{secret('letter-')}.pdf", secret("LETTER-").encode()
    cid, response = await send_with_file(api, template, file_name, content, key,
                                         subscriber_mode="fallback",
                                         subscriber_emails=[stranger])
    assert response.status_code == 200, response.text
    [message] = await tx_messages(runtime, cid)
    assert (await idempotency(runtime, key))["fingerprint"] != "erased"

    async with runtime.pool.connection() as conn:
        assert await erase_address(conn, stranger.upper()) == 1
    assert await open_queued(runtime, message) is None
    assert await file_rows(runtime, message) == (0, 0)
    assert_erased(await idempotency(runtime, key))


# --- stored idempotent answers --------------------------------------------------------------------

async def idempotency(runtime: Runtime, key: str) -> Row:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT fingerprint, result::text AS result, response_status,"
            " convert_from(response_body, 'UTF8') AS body"
            " FROM eventlog.idempotency WHERE key LIKE %s", (f"%:{key}",))
        [row] = await cur.fetchall()
    return dict(zip(("fingerprint", "result", "response_status", "body"), row, strict=True))


def assert_erased(record: Row, *secrets: str) -> None:
    assert record["fingerprint"] == "erased"
    assert (record["response_status"], record["body"]) == (ERASED_STATUS, None)
    assert json.loads(record["result"]) == {"erased": True}
    assert not [s for s in secrets if s.lower() in str(record).lower()]


async def test_the_answer_to_a_create_is_cleared_and_cannot_come_back(
        api: httpx.AsyncClient, runtime: Runtime) -> None:
    email, name, key = unique_email("idem"), secret("Name"), uuid.uuid4().hex
    body = {"email": email, "name": name}
    created = await api.post("/api/subscribers", json=body, headers={"Idempotency-Key": key})
    assert created.status_code == 200, created.text
    assert email in (await idempotency(runtime, key))["body"]

    await delete(api, created.json()["data"]["id"])
    record = await idempotency(runtime, key)
    assert_erased(record, email, name)
    # An answer stored late (the create's response racing the erasure) is not written.
    stored_key = await scalar(runtime, "SELECT key FROM eventlog.idempotency WHERE key LIKE %s",
                              f"%:{key}")
    await store_response(runtime.pool, stored_key, 200, created.content)
    assert_erased(await idempotency(runtime, key), email, name)
    # A retry is refused rather than creating the subscriber again.
    before = await event_count(runtime)
    retried = await api.post("/api/subscribers", json=body, headers={"Idempotency-Key": key})
    assert retried.status_code == 422
    assert await event_count(runtime) == before


async def test_a_tx_answer_naming_an_address_is_cleared_when_it_is_erased(
        api: httpx.AsyncClient, runtime: Runtime, template: Row) -> None:
    ghost, known, key = unique_email("ghost"), await create(api), uuid.uuid4().hex
    response = await api.post("/api/tx", headers={"Idempotency-Key": key}, json={
        "subscriber_emails": [ghost, known["email"]], "template_id": template["id"]})
    assert (response.status_code, response.json()) == (
        400, {"message": f"Subscriber (0: {ghost}) not found"})
    record = await idempotency(runtime, key)
    assert ghost in record["body"] and ghost in record["result"]

    await delete(api, known["id"])  # erasing any recipient clears the record
    assert_erased(await idempotency(runtime, key), ghost, known["email"])

    # The address that was unknown then becomes a subscriber, and is erased.
    other_key = uuid.uuid4().hex
    response = await api.post("/api/tx", headers={"Idempotency-Key": other_key}, json={
        "subscriber_emails": [ghost, (await create(api))["email"]],
        "template_id": template["id"]})
    assert response.status_code == 400
    assert ghost in (await idempotency(runtime, other_key))["body"]
    await delete(api, (await create(api, email=ghost.upper()))["id"])
    assert_erased(await idempotency(runtime, other_key), ghost)


async def test_a_campaign_test_answer_is_cleared(
        api: httpx.AsyncClient, runtime: Runtime) -> None:
    await ensure_default_templates(runtime.pool)
    layout = await make_template(api, type="campaign",
                                 body='<div>{{ template "content" . }}</div>')
    lst = await make_list(api)
    made = await api.post("/api/campaigns", json={
        "name": "Test", "subject": "Hi", "lists": [lst["id"]], "body": "<p>Hi</p>",
        "content_type": "html", "template_id": layout["id"]})
    assert made.status_code == 200, made.text
    sub, key = await create(api), uuid.uuid4().hex
    response = await api.post(f"/api/campaigns/{made.json()['data']['id']}/test",
                              headers={"Idempotency-Key": key},
                              json={"subscribers": [sub["email"]]})
    assert response.status_code == 200, response.text
    assert (await idempotency(runtime, key))["fingerprint"] != "erased"

    await delete(api, sub["id"])
    assert_erased(await idempotency(runtime, key), sub["email"])
