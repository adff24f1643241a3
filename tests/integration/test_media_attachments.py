"""A campaign's media are sent with every message: uploaded through ``/api/media``, named in
the campaign's ``media``, delivered by the sender (the production wiring: messengers from the
settings API) to a real SMTP server in this process, each message carrying the files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email import policy
from email.parser import BytesParser
from functools import partial
from pathlib import Path

import httpx
import pytest

from kernel.settings import Settings
from services.command_api.campaigns.sending import finish_sent, pause_sending
from services.sender.service import sender_service
from tests.integration.sender_support import (
    FAST,
    SenderStack,
    create_campaign,
    make_list,
    sender_stack,
    set_status,
    subscribe,
    until_status,
)
from tests.integration.smtp_support import start_smtp_server

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SenderStack]:
    async with sender_stack(admin_pg_url, settings) as built:
        yield built


@pytest.fixture
async def api(stack: SenderStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


async def test_every_message_of_a_campaign_carries_its_media(
        stack: SenderStack, api: httpx.AsyncClient, tmp_path: Path) -> None:
    audience = await make_list(api)
    people = [await subscribe(api, [audience], name) for name in ("Ann Smith", "Bob Jones")]
    async with start_smtp_server() as smtp:
        body = (await api.get("/api/settings")).json()["data"]
        body["smtp"] = [{**body["smtp"][0], "host": "127.0.0.1", "port": smtp.port,
                         "tls_type": "none", "auth_protocol": "none", "enabled": True}]
        body["upload.provider"] = "filesystem"
        body["upload.filesystem.upload_path"] = str(tmp_path)
        assert (await api.put("/api/settings", json=body)).status_code == 200
        live = stack.runtime.live_settings
        assert await live.wait_for(lambda s: s.smtp[0].port == smtp.port
                                   and s.upload_filesystem_upload_path == str(tmp_path), 10)

        uploaded = await api.post("/api/media",
                                  files={"file": ("Terms of use.pdf", PDF, "application/pdf")})
        assert uploaded.status_code == 200, uploaded.text
        media = uploaded.json()["data"]
        created = await create_campaign(api, [audience], media=[media["id"]])
        assert created["media"] == [{"id": media["id"], "filename": "Terms-of-use.pdf"}]

        pool = stack.runtime.pool
        async with sender_service(stack.runtime, finish=partial(finish_sent, pool),
                                  pause=partial(pause_sending, pool), tuning=FAST):
            await set_status(api, created["id"], "running")
            await until_status(api, created["id"], "finished")
        received = [m for m in smtp.recorder.messages
                    if f"X-Listmonk-Campaign: {created['uuid']}".encode() in m.content]

    assert sorted(r for m in received for r in m.rcpt_tos) == sorted(p["email"] for p in people)
    for message in received:
        mail = BytesParser(policy=policy.default).parsebytes(message.content)
        attachments = list(mail.iter_attachments())
        assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
            ("Terms-of-use.pdf", "application/pdf")]
        assert attachments[0].get_content() == PDF
        html = mail.get_body(("html",))
        assert html is not None and "Dear" in html.get_content()
