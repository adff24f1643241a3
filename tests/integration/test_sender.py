"""Campaign delivery through HTTP, with the sender in the test's event loop and a recording
messenger: who gets a message and what it says, pause and resume, failures recorded and
retried, ``app.max_send_errors``, a holder that loses its chunk, and two senders sharing a
campaign. (Crashes of real processes: ``tests/e2e/test_sender_processes.py``.)"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from functools import partial

import httpx
import pytest

from kernel.settings import Settings
from services.command_api.campaigns.sending import finish_sent, pause_sending
from services.sender.messengers.base import DeliveryResult
from services.sender.service import sender_service
from tests.integration.sender_support import (
    FAST,
    ROOT_URL,
    RecordingMessenger,
    SenderStack,
    campaign,
    create_campaign,
    deliveries,
    eventually,
    import_subscribers,
    make_list,
    sender_settings,
    sender_stack,
    set_status,
    subscribe,
    until,
    until_status,
)
from tests.integration.smtp_support import start_smtp_server


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SenderStack]:
    async with sender_stack(admin_pg_url, settings) as built:
        yield built


@pytest.fixture
async def api(stack: SenderStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


async def test_every_recipient_gets_one_personalised_message_with_listmonks_headers(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    single, double = await make_list(api), await make_list(api, optin="double")
    ann = await subscribe(api, [single], "Ann Smith", attribs={"city": "Lyon"})
    bob = await subscribe(api, [single, double], "Bob Jones", attribs={"city": "Oslo"},
                          preconfirm_subscriptions=True)
    cid = await subscribe(api, [double], "Cid Confirmed", preconfirm_subscriptions=True)
    await subscribe(api, [double], "Una Unconfirmed")  # double opt-in, not confirmed
    await subscribe(api, [single], "Bea Blocked", status="blocklisted")
    gone = await subscribe(api, [single], "Ugo Unsubscribed")
    response = await api.put("/api/subscribers/lists", json={
        "ids": [gone["id"]], "action": "unsubscribe", "target_list_ids": [single]})
    assert response.status_code == 200, response.text
    created = await create_campaign(
        api, [single, double], headers=[{"X-Campaign-Tag": "spring-{{ .Subscriber.ID }}"}])
    messenger = RecordingMessenger()
    async with stack.sender(messenger):
        started = await set_status(api, created["id"], "running")
        assert started["to_send"] == 3
        done = await until_status(api, created["id"], "finished")
    assert done["sent"] == 3
    got = {a.message.content.to[0]: a.message for a in messenger.attempts
           if a.message.campaign and a.message.campaign.uuid == created["uuid"]}
    assert messenger.delivered_to(created["uuid"]) == Counter(
        {ann["email"]: 1, bob["email"]: 1, cid["email"]: 1})
    for person, first, city in ((ann, "Ann", "Lyon"), (bob, "Bob", "Oslo")):
        message = got[person["email"]]
        assert message.content.subject == f"Hello {first}"
        assert f"Dear {person['name']} from {city}" in message.content.body
        assert parseaddr(message.from_email)[1] == "news@example.org"
        unsubscribe = f"{ROOT_URL}/subscription/{created['uuid']}/{person['uuid']}"
        assert message.content.headers == [
            ("X-Listmonk-Campaign", created["uuid"]),
            ("X-Listmonk-Subscriber", person["uuid"]),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("List-Unsubscribe", f"<{unsubscribe}>"),
            ("X-Campaign-Tag", f"spring-{person['id']}"),
        ]
    records = await deliveries(api, created["id"])
    assert records["total"] == 3 and {r["status"] for r in records["results"]} == {"sent"}
    assert {r["email"] for r in records["results"]} == {ann["email"], bob["email"],
                                                         cid["email"]}
    first = records["results"][0]
    assert set(first) == {"subscriber_id", "subscriber_uuid", "email", "status", "attempts",
                          "error", "messenger", "updated_at"}
    assert (first["attempts"], first["error"], first["messenger"]) == (1, "", "email")
    stats = await api.get("/api/campaigns/running/stats", params={"campaign_id": created["id"]})
    assert stats.json() == {"data": []}  # no longer running


async def test_no_unsubscribe_header_when_privacy_says_so_and_an_empty_campaign_finishes(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    single = await make_list(api)
    person = await subscribe(api, [single])
    created = await create_campaign(api, [single])
    empty = await create_campaign(api, [await make_list(api)])
    messenger = RecordingMessenger()
    quiet = sender_settings(privacy_unsubscribe_header=False)
    async with stack.sender(messenger, settings=quiet):
        await set_status(api, created["id"], "running")
        await set_status(api, empty["id"], "running")
        await until_status(api, created["id"], "finished")
        assert (await until_status(api, empty["id"], "finished"))["sent"] == 0
    [attempt] = [a for a in messenger.attempts if a.message.content.to == [person["email"]]]
    assert [name for name, _ in attempt.message.content.headers] == [
        "X-Listmonk-Campaign", "X-Listmonk-Subscriber"]


async def test_pause_stops_within_the_in_flight_window_and_resume_sends_the_rest_once(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    audience = await make_list(api)
    await import_subscribers(api, audience, 60)
    created = await create_campaign(api, [audience])
    messenger = RecordingMessenger(budget=10)
    concurrency = 3
    async with stack.sender(messenger, settings=sender_settings(app_concurrency=concurrency)
                            ) as engine:
        await set_status(api, created["id"], "running")
        # 10 delivered, then every worker blocked inside the messenger (in flight)
        await messenger.wait_for(lambda: messenger.entered == 10 + concurrency)

        async def stats() -> list[dict[str, object]]:
            response = await api.get("/api/campaigns/running/stats",
                                     params={"campaign_id": created["id"]})
            data: list[dict[str, object]] = response.json()["data"]
            return data

        async def ten_sent() -> bool:
            return [(s["sent"], s["rate"]) for s in await stats()] == [(10, 10)]

        await eventually(ten_sent)  # recorded within flush_seconds, shown by running/stats
        [progress] = await stats()
        assert (progress["status"], progress["to_send"], progress["net_rate"]) == (
            "running", 60, 10)
        await set_status(api, created["id"], "paused")
        run = engine.runs[created["id"]][0]
        await until(lambda: run.stopping)  # the sender heard of the pause
        messenger.allow(None)
        await until(lambda: created["id"] not in engine.runs)
        assert messenger.entered == 10 + concurrency  # nothing started after the pause

        async def recorded() -> bool:
            paused = await campaign(api, created["id"])
            return bool(paused["status"] == "paused" and paused["sent"] == 13)

        await eventually(recorded)
        await set_status(api, created["id"], "running")
        done = await until_status(api, created["id"], "finished")
    counts = messenger.delivered_to(created["uuid"])
    assert len(counts) == 60 and set(counts.values()) == {1}
    assert done["sent"] == 60


async def test_a_permanent_failure_is_recorded_listed_and_retried_after_the_fix(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    audience = await make_list(api)
    good = await subscribe(api, [audience], "Gil Good")
    bad = await subscribe(api, [audience], "Ben Bad")
    slow = await subscribe(api, [audience], "Sam Slow")
    created = await create_campaign(api, [audience])
    refusal = f"5.1.1 <{bad['email']}>: Recipient address rejected"
    messenger = RecordingMessenger(
        refuse={bad["email"]: DeliveryResult.refused(550, refusal)},
        once={slow["email"]: [DeliveryResult.retry_later(451, "4.7.1 greylisted")]})
    async with stack.sender(messenger):
        await set_status(api, created["id"], "running")
        done = await until_status(api, created["id"], "finished")
        assert done["sent"] == 2
        failed = await deliveries(api, created["id"], status="failed")
        assert [(r["subscriber_id"], r["subscriber_uuid"], r["email"], r["attempts"],
                 r["error"]) for r in failed["results"]] == [
            (bad["id"], bad["uuid"], bad["email"], 1, f"550 {refusal}")]
        sent = {r["subscriber_id"]: r for r in (await deliveries(
            api, created["id"], status="sent"))["results"]}
        assert sorted(sent) == sorted([good["id"], slow["id"]])
        assert sent[slow["id"]]["attempts"] == 2  # 451, then delivered
        # the failure text quotes the address: sealed in the log, never in clear
        raw = await stack.rows("SELECT data::text FROM eventlog.events WHERE type ="
                               " 'delivery.progress' AND data::text LIKE %s",
                               f"%{bad['email']}%")
        assert raw == []

        messenger.refuse.clear()  # the server is fixed
        response = await api.post(f"/api/campaigns/{created['id']}/deliveries/retry")
        assert response.json() == {"data": {"count": 1}}

        async def retried() -> bool:
            rows = (await deliveries(api, created["id"], status="sent"))["results"]
            return bad["id"] in {r["subscriber_id"] for r in rows}

        await eventually(retried)
    counts = messenger.delivered_to(created["uuid"])
    assert counts == Counter({good["email"]: 1, bad["email"]: 1, slow["email"]: 1})
    after = await until_status(api, created["id"], "finished")
    assert after["sent"] == 3
    row = next(r for r in (await deliveries(api, created["id"]))["results"]
               if r["subscriber_id"] == bad["id"])
    assert (row["status"], row["attempts"], row["error"]) == ("sent", 2, "")
    nothing = await api.post(f"/api/campaigns/{created['id']}/deliveries/retry")
    assert nothing.json() == {"data": {"count": 0}}
    # erasing a subscriber erases their delivery records too
    assert (await api.delete(f"/api/subscribers/{bad['id']}")).status_code == 200

    async def erased() -> bool:
        rows = (await deliveries(api, created["id"]))["results"]
        return bad["id"] not in {r["subscriber_id"] for r in rows} and len(rows) == 2

    await eventually(erased)


async def test_max_send_errors_pauses_the_campaign_with_the_reason_recorded(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    audience = await make_list(api)
    await import_subscribers(api, audience, 40)
    created = await create_campaign(api, [audience])
    messenger = RecordingMessenger(refuse_all=DeliveryResult.refused(554, "5.7.1 blocked"))
    async with stack.sender(messenger, settings=sender_settings(app_max_send_errors=5)):
        await set_status(api, created["id"], "running")
        paused = await until_status(api, created["id"], "paused")
    assert paused["sent"] == 0
    [(reason,)] = await stack.rows(
        "SELECT data->>'reason' FROM eventlog.events WHERE stream_id = %s"
        " AND type = 'campaign.paused'", f"campaign-{created['id']}")
    assert reason.startswith("Too many errors")
    failed = await deliveries(api, created["id"], status="failed")
    assert 5 <= failed["total"] < 40


async def test_a_start_without_an_enabled_messenger_is_refused(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    current = (await api.get("/api/settings")).json()["data"]
    hook = {"enabled": True, "name": "hook", "root_url": "http://127.0.0.1:9/hook",
            "username": "", "password": "", "max_conns": 1, "timeout": "1s",
            "max_msg_retries": 0}
    current["messengers"] = [hook]
    assert (await api.put("/api/settings", json=current)).status_code == 200
    created = await create_campaign(api, [await make_list(api)], messenger="hook")
    assert created["messenger"] == "hook"
    current = (await api.get("/api/settings")).json()["data"]
    current["messengers"][0]["enabled"] = False
    assert (await api.put("/api/settings", json=current)).status_code == 200
    refused = await api.put(f"/api/campaigns/{created['id']}/status",
                            json={"status": "running"})
    assert refused.status_code == 400
    assert "messenger 'hook' is not enabled" in refused.json()["message"]
    assert (await campaign(api, created["id"]))["status"] == "draft"


async def test_a_holder_whose_lease_ran_out_loses_its_chunk_to_another_sender(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    audience = await make_list(api)
    await import_subscribers(api, audience, 30)
    created = await create_campaign(api, [audience])
    stale = RecordingMessenger(budget=5)
    fresh = RecordingMessenger()
    async with stack.sender(stale) as first:
        await set_status(api, created["id"], "running")
        await stale.wait_for(lambda: stale.entered >= 6)  # 5 delivered, one held in flight
        # the first sender stalls past its lease: another takes its chunks over
        await stack.execute("UPDATE sender.chunks SET lease_until = now() - interval '1 second'"
                            " WHERE campaign_id = %s", created["id"])
        async with stack.sender(fresh):
            await until_status(api, created["id"], "finished")
        stale.allow(None)
        await first.idle()
    counts = stale.delivered_to(created["uuid"]) + fresh.delivered_to(created["uuid"])
    assert len(counts) == 30
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= FAST.flush_every + sender_settings().app_concurrency
    assert (await deliveries(api, created["id"], status="sent"))["total"] == 30
    # the stale holder's late record was refused: the log holds each delivery once
    [(recorded, distinct)] = await stack.rows(
        "SELECT count(*), count(DISTINCT d) FROM eventlog.events,"
        " jsonb_array_elements(data->'delivered') d WHERE type = 'delivery.progress'"
        " AND (data->>'campaign_id')::bigint = %s", created["id"])
    assert (recorded, distinct) == (30, 30)


async def test_two_senders_share_a_campaign_and_each_recipient_gets_it_once(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    audience = await make_list(api)
    await import_subscribers(api, audience, 1000)
    created = await create_campaign(api, [audience])
    one, two = RecordingMessenger(), RecordingMessenger()
    async with stack.sender(one), stack.sender(two):
        await set_status(api, created["id"], "running")
        done = await until_status(api, created["id"], "finished", within=120)
    counts = one.delivered_to(created["uuid"]) + two.delivered_to(created["uuid"])
    assert len(counts) == 1000 and set(counts.values()) == {1}
    assert one.delivered_to(created["uuid"]) and two.delivered_to(created["uuid"])
    assert done["sent"] == 1000


async def test_the_smtp_server_of_the_live_settings_gets_each_message_with_its_headers(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    """Production wiring: the messengers and rates come from the settings API."""
    audience = await make_list(api)
    people = [await subscribe(api, [audience], name) for name in ("Ann Smith", "Bob Jones")]
    created = await create_campaign(api, [audience])
    async with start_smtp_server() as smtp:
        body = (await api.get("/api/settings")).json()["data"]
        body["smtp"] = [{**body["smtp"][0], "host": "127.0.0.1", "port": smtp.port,
                         "tls_type": "none", "auth_protocol": "none", "enabled": True}]
        assert (await api.put("/api/settings", json=body)).status_code == 200
        live = stack.runtime.live_settings
        assert await live.wait_for(lambda s: s.smtp[0].port == smtp.port, 10)
        pool = stack.runtime.pool
        async with sender_service(stack.runtime, finish=partial(finish_sent, pool),
                                  pause=partial(pause_sending, pool), tuning=FAST):
            await set_status(api, created["id"], "running")
            await until_status(api, created["id"], "finished")
        # the campaign's messages (the sender also sends earlier tests' opt-in confirmations)
        received = [m for m in smtp.recorder.messages
                    if f"X-Listmonk-Campaign: {created['uuid']}".encode() in m.content]
    assert sorted(r for m in received for r in m.rcpt_tos) == sorted(p["email"] for p in people)
    for message in received:
        mail = BytesParser(policy=policy.default).parsebytes(message.content)
        person = next(p for p in people if p["email"] == message.rcpt_tos[0])
        assert mail["Subject"] == f"Hello {person['name'].split()[0]}"
        assert (mail["X-Listmonk-Campaign"], mail["X-Listmonk-Subscriber"]) == (
            created["uuid"], person["uuid"])
        assert mail["List-Unsubscribe"] == (
            f"<{ROOT_URL}/subscription/{created['uuid']}/{person['uuid']}>")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.mail_from == "news@example.org"
        assert f"Dear {person['name']}" in mail.get_body(("html",)).get_content()
