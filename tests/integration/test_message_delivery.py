"""Transactional, campaign test, opt-in and notification mail really delivered: through HTTP,
against PostgreSQL, NATS and an SMTP server in the test's loop (aiosmtpd), with the
production sender (live settings -> SMTP pools) running beside the APIs."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from events.message_deliveries import OPTIN_OFF
from kernel.settings import Settings
from projections.rebuild import rebuild
from projections.registry import projection_by_name
from services.command_api.templates.seed import ensure_default_templates
from services.sender.messengers.base import DeliveryResult
from tests.integration.message_delivery_support import (
    address,
    arrived,
    history,
    html_of,
    latest,
    message_runner,
    optin_link,
    parsed,
    running_sender,
    subscriber,
    until_history,
)
from tests.integration.messages_support import make_template
from tests.integration.sender_support import (
    create_campaign,
    make_list,
    set_status,
    until_status,
)
from tests.integration.settings_support import (
    ROOT_URL,
    SettingsStack,
    put_setting,
    settings_stack,
    use_smtp_server,
)
from tests.integration.smtp_support import SMTPTestServer, start_smtp_server

TX_BODY = ("<p>Hi {{ .Subscriber.Name }}, order {{ .Tx.Data.order_id }}"
           " for {{ .Subscriber.Email }}</p>")


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    async with settings_stack(admin_pg_url, settings) as built:
        await ensure_default_templates(built.runtime.pool)
        yield built


@pytest.fixture(scope="module")
async def smtp(stack: SettingsStack) -> AsyncIterator[SMTPTestServer]:
    async with start_smtp_server() as server:
        await use_smtp_server(stack, "127.0.0.1", server.port, max_msg_retries=0)
        yield server


@pytest.fixture
async def api(stack: SettingsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


@pytest.fixture
async def sender(stack: SettingsStack, smtp: SMTPTestServer) -> AsyncIterator[None]:
    async with running_sender(stack):
        yield


@pytest.fixture
async def tx_template(api: httpx.AsyncClient) -> dict[str, Any]:
    return await make_template(api, subject="Order {{ .Tx.Data.order_id }}", body=TX_BODY)


async def test_a_tx_message_arrives_rendered_with_its_headers_and_attachment(
        stack: SettingsStack, api: httpx.AsyncClient, smtp: SMTPTestServer, sender: None,
        tx_template: dict[str, Any]) -> None:
    ana = await subscriber(api, "Ana Lima")
    body = {"subscriber_email": ana["email"], "template_id": tx_template["id"],
            "data": {"order_id": "A-17"}, "headers": [{"X-Order": "A-17"}],
            "from_email": "Shop <shop@example.org>"}
    response = await api.post("/api/tx", data={"data": json.dumps(body)},
                              files=[("file", ("invoice.txt", b"total: 42\n", "text/plain"))])
    assert response.status_code == 200, response.text
    [mail] = await arrived(smtp, ana["email"])
    assert mail["Subject"] == "Order A-17"
    assert mail["From"] == "Shop <shop@example.org>" and mail["X-Order"] == "A-17"
    assert f"Hi Ana Lima, order A-17 for {ana['email']}" in html_of(mail)
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "invoice.txt"
    assert attachment.get_content() == "total: 42\n"
    [entry] = await until_history(api, ana["id"], latest("sent"))
    assert entry["message_id"] in mail["Message-Id"]
    assert {k: entry[k] for k in ("kind", "status", "attempts", "error", "messenger",
                                  "template_id")} == {
        "kind": "tx", "status": "sent", "attempts": 1, "error": "", "messenger": "email",
        "template_id": tx_template["id"]}
    types = await stack.rows("SELECT type FROM eventlog.events WHERE stream_id = %s"
                             " ORDER BY version", f"message-{entry['message_id']}")
    assert types == [("message.tx_queued",), ("message.delivered",)]


async def test_a_campaign_test_send_arrives(api: httpx.AsyncClient, smtp: SMTPTestServer,
                                            sender: None) -> None:
    audience = await make_list(api)
    bob = await subscriber(api, "Bob Jones", [audience], attribs={"city": "Oslo"})
    created = await create_campaign(api, [audience], name="Spring test")
    response = await api.post(f"/api/campaigns/{created['id']}/test",
                              json={"subscribers": [bob["email"]]})
    assert response.status_code == 200, response.text
    [mail] = await arrived(smtp, bob["email"])
    assert mail["Subject"] == "Hello Bob"
    assert (mail["X-Listmonk-Campaign"], mail["X-Listmonk-Subscriber"]) == (
        created["uuid"], bob["uuid"])
    assert "Dear Bob Jones from Oslo" in html_of(mail)
    [entry] = await until_history(api, bob["id"], latest("sent"))
    assert (entry["kind"], entry["campaign_id"], entry["campaign_name"]) == (
        "campaign_test", created["id"], "Spring test")


async def test_double_optin_sends_the_optin_mail_and_its_link_confirms(
        stack: SettingsStack, api: httpx.AsyncClient, smtp: SMTPTestServer,
        sender: None) -> None:
    response = await api.post("/api/lists", json={
        "name": "Weekly news", "type": "public", "optin": "double"})
    double = response.json()["data"]
    email = address("cleo")
    async with stack.client(anonymous=True) as anon:
        signed = await anon.post("/api/public/subscription", json={
            "email": email, "name": "Cleo Park", "list_uuids": [double["uuid"]]})
        assert signed.json() == {"data": {"has_optin": True}}
        [mail] = await arrived(smtp, email)
        found = (await api.get("/api/subscribers", params={
            "query": f"subscribers.email = '{email}'"})).json()["data"]["results"][0]
        assert mail["Subject"] == "Confirm your subscription"
        assert mail["X-Listmonk-Subscriber"] == found["uuid"]
        assert mail["List-Unsubscribe"] == (
            f"<{ROOT_URL.rstrip('/')}/subscription/00000000-0000-0000-0000-000000000000/"
            f"{found['uuid']}>")
        assert "Weekly news" in html_of(mail) and "Hello Cleo" in html_of(mail)
        link = optin_link(mail)
        assert link == f"/subscription/optin/{found['uuid']}?l={double['uuid']}"
        page = await anon.get(link)
        assert page.status_code == 200 and "Weekly news" in page.text
        confirmed = await anon.post(link)
        assert confirmed.status_code == 200, confirmed.text
    after = (await api.get(f"/api/subscribers/{found['id']}")).json()["data"]
    assert [(x["id"], x["subscription_status"]) for x in after["lists"]] == [
        (double["id"], "confirmed")]
    # an opt-in asked for by hand is sent again (the subscription is still unconfirmed here)
    again = await subscriber(api, "Dan Wu", [double["id"]])
    await arrived(smtp, again["email"])
    assert (await api.post(f"/api/subscribers/{again['id']}/optin")).status_code == 200
    second = await arrived(smtp, again["email"], 2)
    assert len({m["Message-Id"] for m in second}) == 2
    entries = await until_history(api, again["id"], lambda h: len(h) == 2 and all(
        e["status"] == "sent" for e in h))
    assert [e["kind"] for e in entries] == ["optin", "optin"]


async def test_no_optin_mail_when_the_setting_is_off(
        stack: SettingsStack, api: httpx.AsyncClient, smtp: SMTPTestServer,
        sender: None) -> None:
    double = (await api.post("/api/lists", json={
        "name": "Quiet", "type": "private", "optin": "double"})).json()["data"]
    public = (await api.post("/api/lists", json={
        "name": "Quiet public", "type": "public", "optin": "double"})).json()["data"]
    await put_setting(stack, "app.send_optin_confirmation", False)
    try:
        eve = await subscriber(api, "Eve Quiet", [double["id"]])
        [entry] = await until_history(api, eve["id"], latest("skipped"))
        assert (entry["kind"], entry["error"]) == ("optin", OPTIN_OFF)
        async with stack.client(anonymous=True) as anon:  # listmonk: no e-mail, no has_optin
            signed = await anon.post("/api/public/subscription", json={
                "email": address("quiet"), "list_uuids": [public["uuid"]]})
            assert signed.json() == {"data": {"has_optin": False}}
        # asked for by hand, it is sent whatever the setting (as listmonk does)
        assert (await api.post(f"/api/subscribers/{eve['id']}/optin")).status_code == 200
        [mail] = await arrived(smtp, eve["email"])
        assert mail["Subject"] == "Confirm your subscription"
    finally:
        await put_setting(stack, "app.send_optin_confirmation", True)


async def test_an_external_tx_reaches_someone_who_is_not_a_subscriber(
        stack: SettingsStack, api: httpx.AsyncClient, smtp: SMTPTestServer, sender: None,
        tx_template: dict[str, Any]) -> None:
    stranger = address("stranger")
    response = await api.post("/api/tx", json={
        "subscriber_mode": "external", "subscriber_emails": [stranger],
        "template_id": tx_template["id"], "data": {"order_id": "X-1"}})
    assert response.status_code == 200, response.text
    [mail] = await arrived(smtp, stranger)
    assert mail["To"] == stranger and f"order X-1 for {stranger}" in html_of(mail)
    rows = await stack.rows("SELECT count(*) FROM eventlog.events WHERE data::text LIKE %s",
                            f"%{stranger}%")
    assert rows == [(0,)]  # sealed with the message's own key, never in clear


async def test_a_550_is_recorded_as_failed_and_a_451_is_retried(
        stack: SettingsStack, api: httpx.AsyncClient, smtp: SMTPTestServer, sender: None,
        tx_template: dict[str, Any]) -> None:
    gil = await subscriber(api, "Gil Gone")
    refusal = f"550 5.1.1 <{gil['email']}>: Recipient address rejected"
    smtp.recorder.rcpt_replies[gil["email"]] = refusal
    response = await api.post("/api/tx", json={"subscriber_id": gil["id"],
                                               "template_id": tx_template["id"]})
    assert response.status_code == 200, response.text
    [failed] = await until_history(api, gil["id"], latest("failed"))
    assert (failed["kind"], failed["attempts"], failed["error"]) == ("tx", 1, refusal)
    raw = await stack.rows("SELECT count(*) FROM eventlog.events WHERE type = 'message.failed'"
                           " AND data::text LIKE %s", f"%{gil['email']}%")
    assert raw == [(0,)]  # the reply quotes the address: sealed with the subscriber's key
    hal = await subscriber(api, "Hal Later")
    smtp.recorder.data_replies.append("451 4.7.1 try again later")
    response = await api.post("/api/tx", json={"subscriber_id": hal["id"],
                                               "template_id": tx_template["id"]})
    assert response.status_code == 200, response.text
    await arrived(smtp, hal["email"])
    [sent] = await until_history(api, hal["id"], latest("sent"))
    assert sent["attempts"] == 2


async def test_a_sender_killed_between_sending_and_recording_resends_only_that_message(
        stack: SettingsStack, api: httpx.AsyncClient, smtp: SMTPTestServer,
        tx_template: dict[str, Any]) -> None:
    people = [address(f"crash{n}") for n in range(3)]
    sent_once = asyncio.Event()

    async def die_after_sending(message_id: str, result: DeliveryResult) -> None:
        sent_once.set()
        await asyncio.Event().wait()  # never records: killed here

    async with message_runner(stack, "doomed", workers=1,
                              after_send=die_after_sending) as (_, kill):
        response = await api.post("/api/tx", json={
            "subscriber_mode": "external", "subscriber_emails": people,
            "template_id": tx_template["id"]})
        assert response.status_code == 200, response.text
        await sent_once.wait()
        await kill()
    [first] = [p for p in people if parsed(smtp, p)]
    async with message_runner(stack, "survivor"):
        for person in people:
            await arrived(smtp, person, 2 if person == first else 1)
    counts = Counter(p for p in people for _ in parsed(smtp, p))
    assert counts == Counter({first: 2, **{p: 1 for p in people if p != first}})
    twice = parsed(smtp, first)
    assert twice[0]["Message-Id"] == twice[1]["Message-Id"]  # the same message, resent
    rows = await stack.rows(
        "SELECT count(*), count(DISTINCT stream_id) FROM eventlog.events"
        " WHERE type = 'message.delivered' AND stream_id IN (SELECT stream_id FROM"
        " eventlog.events WHERE type = 'message.tx_queued' AND data->>'template_id' = %s)",
        str(tx_template["id"]))
    assert rows == [(3, 3)]


async def test_two_sender_processes_share_messages_and_send_each_once(
        stack: SettingsStack, api: httpx.AsyncClient, smtp: SMTPTestServer,
        tx_template: dict[str, Any]) -> None:
    people = [address(f"shared{n}") for n in range(30)]
    smtp.recorder.gate = asyncio.Event()  # hold DATA until both have their hands full
    try:
        async with message_runner(stack, "one") as (one, _), message_runner(stack, "two") as (
                two, _):
            response = await api.post("/api/tx", json={
                "subscriber_mode": "external", "subscriber_emails": people,
                "template_id": tx_template["id"]})
            assert response.status_code == 200, response.text
            await smtp.recorder.wait_for(lambda: smtp.recorder.in_data == 8)  # 4 + 4 workers
            smtp.recorder.gate.set()
            await smtp.recorder.wait_for(lambda: all(parsed(smtp, p) for p in people))
    finally:
        smtp.recorder.gate.set()
        smtp.recorder.gate = None
    assert Counter(p for p in people for _ in parsed(smtp, p)) == Counter(people)
    assert one.sent and two.sent and one.sent + two.sent == len(people)


async def test_admins_are_notified_when_a_campaign_finishes_and_when_it_is_paused(
        stack: SettingsStack, api: httpx.AsyncClient, smtp: SMTPTestServer,
        sender: None, tx_template: dict[str, Any]) -> None:
    ops, boss = address("ops"), address("boss")
    await put_setting(stack, "app.notify_emails", [ops, boss])
    await put_setting(stack, "app.max_send_errors", 1)
    try:
        audience = await make_list(api)
        ivy = await subscriber(api, "Ivy Reed", [audience])
        await subscriber(api, "Jon Reed", [audience])
        done = await create_campaign(api, [audience], name="Autumn")
        await set_status(api, done["id"], "running")
        await until_status(api, done["id"], "finished")
        for admin in (ops, boss):
            [mail] = await arrived(smtp, admin)
            assert mail["Subject"] == "Campaign finished: Autumn"
            assert "2 of 2" in html_of(mail) and f"/admin/campaigns/{done['id']}" in html_of(mail)
        # the subscriber's history: the campaign, then a tx; newest first, paged
        await api.post("/api/tx", json={"subscriber_id": ivy["id"],
                                        "template_id": tx_template["id"]})
        entries = await until_history(api, ivy["id"], lambda h: len(h) == 2 and h[0][
            "status"] == "sent")
        assert [(e["kind"], e["campaign_id"]) for e in entries] == [
            ("tx", None), ("campaign", done["id"])]
        second = await history(api, ivy["id"], per_page=1, page=2)
        assert (second["total"], [e["kind"] for e in second["results"]]) == (2, ["campaign"])

        blocked = await make_list(api)
        kim = await subscriber(api, "Kim Block", [blocked])
        await subscriber(api, "Lou Held", [blocked])
        smtp.recorder.rcpt_replies[kim["email"]] = "550 5.7.1 blocked"
        # Lou's message waits in DATA, so the campaign cannot finish before it is paused
        smtp.recorder.gate = asyncio.Event()
        stopped = await create_campaign(api, [blocked], name="Blocked")
        await set_status(api, stopped["id"], "running")
        try:
            await until_status(api, stopped["id"], "paused")
        finally:
            smtp.recorder.gate.set()
            smtp.recorder.gate = None
        [mail] = [m for m in await arrived(smtp, ops, 2) if "Blocked" in m["Subject"]]
        assert mail["Subject"] == "Campaign paused: Blocked"
        assert "Too many errors" in html_of(mail)
    finally:
        await put_setting(stack, "app.notify_emails", [])
        await put_setting(stack, "app.max_send_errors", 1000)
    # erasing the subscriber erases its history
    assert (await api.delete(f"/api/subscribers/{ivy['id']}")).status_code == 200
    assert (await api.get(f"/api/subscribers/{ivy['id']}/deliveries")).status_code == 404
    left = await stack.rows(
        "SELECT (SELECT count(*) FROM readmodel.campaign_deliveries WHERE subscriber_id = %s)"
        " + (SELECT count(*) FROM readmodel.message_deliveries WHERE subscriber_id = %s)",
        ivy["id"], ivy["id"])
    assert left == [(0,)]


async def test_a_campaign_paused_by_hand_notifies_without_a_reason(
        stack: SettingsStack, api: httpx.AsyncClient, smtp: SMTPTestServer,
        sender: None) -> None:
    ops = address("ops")
    await put_setting(stack, "app.notify_emails", [ops])
    try:
        audience = await make_list(api)
        await subscriber(api, "Max Hold", [audience])
        smtp.recorder.gate = asyncio.Event()  # the campaign's message waits in DATA
        held = await create_campaign(api, [audience], name="Held")
        await set_status(api, held["id"], "running")
        await smtp.recorder.wait_for(lambda: smtp.recorder.in_data == 1)
        await set_status(api, held["id"], "paused")
        smtp.recorder.gate.set()
        smtp.recorder.gate = None
        [mail] = await arrived(smtp, ops)
    finally:
        await put_setting(stack, "app.notify_emails", [])
    assert mail["Subject"] == "Campaign paused: Held"
    assert "Why" not in html_of(mail)


async def test_a_rebuild_of_the_read_model_gives_the_same_rows(stack: SettingsStack) -> None:
    """The work list the sender claims from is derived from the log alone (run last: the
    module's messages are there, sent, failed, skipped, requests turned into messages)."""
    query = "SELECT * FROM readmodel.message_deliveries ORDER BY message_id"
    before = await stack.rows(query)
    await rebuild(stack.settings, stack.runtime.pool,
                  projection_by_name("message_deliveries", stack.settings), progress=False)
    assert await stack.rows(query) == before
