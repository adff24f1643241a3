"""A bounce read from the mailbox shows up in listmonk's API: a campaign message delivered to
a real SMTP server, the DSN for it put in a real IMAP mailbox configured through
``PUT /api/settings``, the scanner wired to the command side's intake as the composition root
wires it (``postlog/bounce_wiring.py``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest

from kernel.settings import Settings
from postlog.bounce_wiring import mailbox_recorder
from services.command_api.campaigns.sending import finish_sent, pause_sending
from services.sender.bounce_mailbox import MailboxScanner
from services.sender.service import sender_service
from tests.integration.sender_support import (
    FAST,
    SenderStack,
    create_campaign,
    eventually,
    make_list,
    sender_stack,
    set_status,
    subscribe,
    until_status,
)
from tests.integration.smtp_support import start_smtp_server
from tests.mail_servers import (
    PASSWORD,
    USER,
    MailStore,
    Original,
    postfix_bounce,
    start_imap_server,
)


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SenderStack]:
    async with sender_stack(admin_pg_url, settings) as built:
        yield built


@pytest.fixture
async def api(stack: SenderStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


def imap_mailbox(port: int) -> dict[str, Any]:
    """A ``bounce.mailboxes`` item for the test IMAP server (as listmonk's settings hold it)."""
    return {"uuid": str(uuid.uuid4()), "enabled": True, "type": "imap", "host": "127.0.0.1",
            "port": port, "auth_protocol": "login", "username": USER, "password": PASSWORD,
            "tls_enabled": False, "tls_skip_verify": False, "scan_interval": "1m",
            "folder": "INBOX", "return_path": "bounces@example.org"}


async def bounces_of(api: httpx.AsyncClient, subscriber_id: int) -> list[dict[str, Any]]:
    response = await api.get(f"/api/subscribers/{subscriber_id}/bounces")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_a_bounced_campaign_message_is_recorded_once_from_the_mailbox(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    list_id = await make_list(api)
    ann = await subscribe(api, [list_id], "Ann Smith")
    bob = await subscribe(api, [list_id], "Bob Jones")
    created = await create_campaign(api, [list_id], name="Spring news")
    store = MailStore()
    async with start_smtp_server() as smtp, start_imap_server(store) as imap:
        body = (await api.get("/api/settings")).json()["data"]
        body["smtp"] = [{**body["smtp"][0], "host": "127.0.0.1", "port": smtp.port,
                         "tls_type": "none", "auth_protocol": "none", "enabled": True}]
        body["bounce.enabled"] = True
        body["bounce.actions"] = {"soft": {"count": 10, "action": "none"},
                                  "hard": {"count": 1, "action": "blocklist"},
                                  "complaint": {"count": 1, "action": "blocklist"}}
        body["bounce.mailboxes"] = [imap_mailbox(imap.port)]
        response = await api.put("/api/settings", json=body)
        assert response.status_code == 200, response.text
        live = stack.runtime.live_settings
        assert await live.wait_for(lambda s: bool(s.bounce_mailboxes)
                                   and s.bounce_mailboxes[0].port == imap.port, 10)
        shown = (await api.get("/api/settings")).json()["data"]["bounce.mailboxes"][0]
        assert (shown["type"], shown["folder"]) == ("imap", "INBOX")
        assert shown["password"] != PASSWORD  # masked

        pool = stack.runtime.pool
        async with sender_service(stack.runtime, finish=partial(finish_sent, pool),
                                  pause=partial(pause_sending, pool), tuning=FAST):
            await set_status(api, created["id"], "running")
            await until_status(api, created["id"], "finished")
        sent = {m.rcpt_tos[0]: m.content for m in smtp.recorder.messages
                if f"X-Listmonk-Campaign: {created['uuid']}".encode() in m.content}
        assert sorted(sent) == sorted([ann["email"], bob["email"]])

        # the receiving server refused it: its DSN arrives in the bounce mailbox
        ann_original = Original(created["uuid"], ann["uuid"], ann["email"])
        store.add(postfix_bounce(ann_original, returned=sent[ann["email"]]))

        def new_scanner() -> MailboxScanner:
            """The scanner of a sender process, wired as the composition root wires it."""
            return MailboxScanner(pool, live.get, mailbox_recorder(pool, stack.settings))

        [result] = await new_scanner().scan_due() or []
        assert (result.error, result.recorded, result.deleted) == ("", 1, 1)
        assert store.messages == {}

        async def recorded() -> bool:
            return len(await bounces_of(api, ann["id"])) == 1

        await eventually(recorded)
        [bounce] = await bounces_of(api, ann["id"])
        assert bounce["type"] == "hard"
        assert bounce["source"] == "imap"
        assert bounce["campaign"] == {"id": created["id"], "name": "Spring news"}
        assert bounce["meta"]["classify_reason"] == "smtp_status=5.1.1"
        assert bounce["created_at"].startswith("2024-04-02T10:00:12")

        # listmonk's default rule for hard bounces (1 -> blocklist) applied
        async def blocklisted() -> bool:
            response = await api.get(f"/api/subscribers/{ann['id']}")
            return bool(response.json()["data"]["status"] == "blocklisted")

        await eventually(blocklisted)

        # Bob's mailbox is full. Then a crash between recording and deleting: the same DSN
        # is read again, by a process that remembers nothing, before a later one. Only the
        # later one is recorded.
        bob_original = Original(created["uuid"], bob["uuid"], bob["email"])

        def bob_full(message_id: str) -> bytes:
            return postfix_bounce(bob_original, returned=sent[bob["email"]], status="4.2.2",
                                  action="delayed", message_id=message_id)

        store.add(bob_full("<first@mx.postlog.example>"))
        [result] = await new_scanner().scan_due() or []  # (a scan is due once a minute)
        assert (result.error, result.recorded) == ("", 1)
        store.add(bob_full("<first@mx.postlog.example>"))
        store.add(bob_full("<later@mx.postlog.example>"))
        [result] = await new_scanner().scan_due() or []
        assert (result.error, result.read, result.recorded, result.deleted) == ("", 2, 1, 2)
        assert store.messages == {}

        async def later_recorded() -> bool:
            return any(b["meta"]["message_id"] == "<later@mx.postlog.example>"
                       for b in await bounces_of(api, bob["id"]))

        await eventually(later_recorded)
        assert sorted((b["type"], b["meta"]["message_id"])
                      for b in await bounces_of(api, bob["id"])) == [
            ("soft", "<first@mx.postlog.example>"), ("soft", "<later@mx.postlog.example>")]
        assert (await api.get(f"/api/subscribers/{bob['id']}")).json()["data"][
            "status"] == "enabled"


async def test_every_sender_process_runs_the_scanner_as_the_composition_root_wires_it(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    """``postlog serve sender`` (and ``up``) start the scanner with the sender
    (``postlog/supervisor.py``): a DSN waiting in a configured mailbox is recorded with no
    call from the test, only the background services running."""
    from postlog.supervisor import background_services

    list_id = await make_list(api)
    cy = await subscribe(api, [list_id], "Cy Young")
    store = MailStore()
    store.add(postfix_bounce(Original(str(uuid.uuid4()), cy["uuid"], cy["email"]),
                             message_id="<wired@mx.postlog.example>"))
    async with start_imap_server(store) as imap:
        body = (await api.get("/api/settings")).json()["data"]
        body["bounce.enabled"] = True
        body["bounce.mailboxes"] = [imap_mailbox(imap.port)]
        assert (await api.put("/api/settings", json=body)).status_code == 200
        assert await stack.runtime.live_settings.wait_for(
            lambda s: bool(s.bounce_mailboxes) and s.bounce_mailboxes[0].port == imap.port, 10)
        async with background_services(stack.runtime, ("sender",)) as tasks:
            assert "bounce_mailbox" in {t.get_name() for t in tasks}

            async def recorded() -> bool:
                return [b["meta"].get("message_id") for b in await bounces_of(api, cy["id"])] \
                    == ["<wired@mx.postlog.example>"]

            await eventually(recorded)
        assert store.messages == {}
