"""listmonk's settings API through HTTP: GET/PUT round trips, secrets never read back nor
stored in clear, listmonk's validation, live application in other processes, reload."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from events.settings import PASSWORD_MASK
from kernel.nats import connect
from kernel.settings import Settings
from services.live_settings import LiveSettings
from tests.integration.settings_support import (
    FROM_EMAIL,
    ROOT_URL,
    SettingsStack,
    settings_stack,
)
from tests.integration.smtp_support import PASSWORD, USER, start_smtp_server

SMTP_SECRET = "hunter2-smtp-Ωmega"  # a non-ASCII character: masks count characters
S3_SECRET = "s3-secret-key-0123456789"
SENDGRID_KEY = "SG.sendgrid-key-abcdef"
OIDC_SECRET = "oidc-client-secret-xyz"
ALL_SECRETS = (SMTP_SECRET, S3_SECRET, SENDGRID_KEY, OIDC_SECRET)


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    async with settings_stack(admin_pg_url, settings) as running:
        yield running


async def get_settings(stack: SettingsStack) -> dict[str, Any]:
    async with stack.client() as api:
        response = await api.get("/api/settings")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def put_settings(stack: SettingsStack, body: dict[str, Any]) -> Any:
    async with stack.client() as api:
        return await api.put("/api/settings", json=body)


async def settings_messages(stack: SettingsStack) -> list[bytes]:
    """Every ``settings.changed`` the relay published on NATS (all of those in the log)."""
    [(count,)] = await stack.rows("SELECT count(*) FROM eventlog.events WHERE category ="
                                  " 'settings'")
    nc = await connect(stack.settings, "settings-test-reader")
    try:
        sub = await nc.jetstream().subscribe(
            stack.settings.subject_for("settings", "settings.changed"),
            stream=stack.settings.stream_name, ordered_consumer=True)
        return [(await sub.next_msg(timeout=10)).data for _ in range(int(count))]
    finally:
        await nc.close()


def with_secrets(current: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(current)
    body["smtp"][0]["password"] = SMTP_SECRET
    body["upload.s3.aws_secret_access_key"] = S3_SECRET
    body["bounce.sendgrid_key"] = SENDGRID_KEY
    body["security.oidc"]["client_secret"] = OIDC_SECRET
    return body


async def test_defaults_are_listmonks_with_the_process_urls_and_masked_secrets(
        stack: SettingsStack) -> None:
    data = await get_settings(stack)
    assert data["app.root_url"] == ROOT_URL.rstrip("/")
    assert data["app.from_email"] == FROM_EMAIL
    assert data["app.concurrency"] == 10 and data["app.message_rate"] == 10
    assert data["privacy.exportable"] == ["profile", "subscriptions", "campaign_views",
                                          "link_clicks"]
    assert [s["host"] for s in data["smtp"]] == ["smtp.yoursite.com", "smtp.gmail.com"]
    assert data["smtp"][0]["password"] == PASSWORD_MASK * len("password")
    assert data["bounce.actions"]["hard"] == {"count": 1, "action": "blocklist"}
    assert data["maintenance.db"] == {"vacuum": False, "vacuum_cron_interval": "0 2 * * *"}


async def test_a_listmonk_client_round_trip_changes_nothing_but_what_it_edits(
        stack: SettingsStack) -> None:
    before = await get_settings(stack)
    response = await put_settings(stack, before)
    assert response.status_code == 200 and response.json() == {"data": True}
    assert await get_settings(stack) == before

    edited = copy.deepcopy(before)
    edited["app.site_name"] = "Weekly news"
    edited["smtp"][0]["host"] = "  smtp.example.org "
    response = await put_settings(stack, edited)
    assert response.status_code == 200, response.text
    after = await get_settings(stack)
    assert after["app.site_name"] == "Weekly news"
    assert after["smtp"][0]["host"] == "smtp.example.org"  # trimmed, as listmonk does
    assert after["smtp"][0]["password"] == before["smtp"][0]["password"]  # still masked
    assert {k: v for k, v in after.items() if k not in ("app.site_name", "smtp")} == {
        k: v for k, v in before.items() if k not in ("app.site_name", "smtp")}


async def test_secrets_are_masked_sealed_in_the_log_and_kept_when_sent_back(
        stack: SettingsStack) -> None:
    response = await put_settings(stack, with_secrets(await get_settings(stack)))
    assert response.status_code == 200, response.text
    shown = await get_settings(stack)
    assert shown["smtp"][0]["password"] == PASSWORD_MASK * len(SMTP_SECRET)
    assert shown["upload.s3.aws_secret_access_key"] == PASSWORD_MASK * len(S3_SECRET)
    assert shown["bounce.sendgrid_key"] == PASSWORD_MASK * len(SENDGRID_KEY)
    assert shown["security.oidc"]["client_secret"] == PASSWORD_MASK * len(OIDC_SECRET)

    # Nowhere in clear: not in the log, not in the read model, not in the key table.
    for table in ("eventlog.events", "readmodel.settings", "eventlog.settings_keys"):
        dump = str(await stack.rows(f"SELECT t::text FROM {table} t"))
        assert not [s for s in ALL_SECRETS if s in dump], table
    [(stored_key,)] = await stack.rows("SELECT data_key FROM eventlog.settings_keys")
    assert len(bytes(stored_key)) != 32  # wrapped with the master key
    published = await settings_messages(stack)
    assert published and not [s for m in published for s in ALL_SECRETS if s.encode() in m]

    # The masks sent back (and listmonk's UI's empty password) keep every secret.
    ui_style = copy.deepcopy(shown)
    ui_style["smtp"][0]["password"] = ""
    for body in (shown, ui_style):
        assert (await put_settings(stack, body)).status_code == 200
        live = await stack.runtime.live_settings.refresh()
        assert live.smtp[0].password == SMTP_SECRET
        assert live.upload_s3_aws_secret_access_key == S3_SECRET
        assert live.bounce_sendgrid_key == SENDGRID_KEY
        assert live.security_oidc.client_secret == OIDC_SECRET
    assert await get_settings(stack) == shown


async def test_a_server_moved_in_the_list_keeps_its_password_by_uuid(
        stack: SettingsStack) -> None:
    body = with_secrets(await get_settings(stack))
    assert (await put_settings(stack, body)).status_code == 200
    shown = await get_settings(stack)
    moved = copy.deepcopy(shown)
    moved["smtp"].reverse()
    assert (await put_settings(stack, moved)).status_code == 200
    live = await stack.runtime.live_settings.refresh()
    assert live.smtp[1].uuid == shown["smtp"][0]["uuid"]
    assert live.smtp[1].password == SMTP_SECRET
    assert (await put_settings(stack, shown)).status_code == 200


async def test_new_servers_get_uuids_and_names_as_listmonk_gives_them(
        stack: SettingsStack) -> None:
    body = await get_settings(stack)
    body["smtp"].append({"name": " Bulk Mail ", "host": "bulk.example.org", "port": 587,
                         "enabled": False, "password": "p4ss"})
    body["messengers"] = [{"name": "My SMS!", "root_url": "https://sms.example.org/hook",
                           "password": "sms-pass"}]
    response = await put_settings(stack, body)
    assert response.status_code == 200, response.text
    shown = await get_settings(stack)
    added = shown["smtp"][-1]
    assert added["name"] == "email-bulk-mail" and len(added["uuid"]) == 36
    assert added["password"] == PASSWORD_MASK * 4
    assert shown["messengers"][0]["name"] == "mysms"
    assert shown["messengers"][0]["password"] == PASSWORD_MASK * len("sms-pass")
    shown["smtp"].pop()
    shown["messengers"] = []
    assert (await put_settings(stack, shown)).status_code == 200


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: b.__setitem__("app.concurrency", 0), "app.concurrency"),
    (lambda b: b.__setitem__("app.message_rate", -3), "app.message_rate"),
    (lambda b: b["smtp"][0].__setitem__("port", "25"), "smtp[0].port"),
    (lambda b: b["smtp"][0].__setitem__("port", 70000), "smtp[0].port"),
    (lambda b: b["smtp"][0].__setitem__("idle_timeout", "soon"), "smtp[0].idle_timeout"),
    (lambda b: b.__setitem__("app.message_sliding_window_duration", "1d"),
     "app.message_sliding_window_duration"),
    (lambda b: b["smtp"][0].__setitem__("host", "a\nb"), "smtp[0].host"),
    (lambda b: b.__setitem__("security.trusted_urls", ["ftp://x"]), "trusted URL"),
    (lambda b: [s.__setitem__("enabled", False) for s in b["smtp"]],
     "At least one SMTP block should be enabled"),
    (lambda b: [s.__setitem__("name", "same") for s in b["smtp"]],
     "Duplicate messenger name: email-same"),
    (lambda b: b["bounce.mailboxes"][0].__setitem__("scan_interval", "30s"),
     "bounce.mailboxes[0].scan_interval"),
    (lambda b: b["smtp"][0].__setitem__("password", PASSWORD_MASK * 3) or
     b["smtp"][0].__setitem__("uuid", ""), "password"),
])
async def test_bad_values_are_refused_naming_the_field(stack: SettingsStack, change: Any,
                                                       field: str) -> None:
    before = await get_settings(stack)
    body = copy.deepcopy(before)
    change(body)
    response = await put_settings(stack, body)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert await get_settings(stack) == before


async def test_one_key_is_changed_by_key_and_unknown_keys_are_refused(
        stack: SettingsStack) -> None:
    async with stack.client() as api:
        response = await api.put("/api/settings/maintenance.db",
                                 json={"vacuum": True, "vacuum_cron_interval": "0 4 * * *"})
        assert response.status_code == 200, response.text
        assert (await api.get("/api/settings")).json()["data"]["maintenance.db"] == {
            "vacuum": True, "vacuum_cron_interval": "0 4 * * *"}
        bad = await api.put("/api/settings/maintenance.db",
                            json={"vacuum": True, "vacuum_cron_interval": "every day"})
        assert bad.status_code == 400 and "vacuum_cron_interval" in bad.json()["message"]
        unknown = await api.put("/api/settings/app.nothing", json=1)
        assert unknown.status_code == 400 and "app.nothing" in unknown.json()["message"]


async def test_puts_by_key_leave_the_stored_secrets_as_they_are(stack: SettingsStack) -> None:
    """``PUT /api/settings/:key`` binds one key onto the stored settings, whose secrets are
    sealed tokens: those must stay the very same tokens, PUT after PUT (sealed again each
    time, they grew until every settings change was refused as too long)."""
    assert (await put_settings(stack, with_secrets(await get_settings(stack)))).status_code \
        == 200

    async def stored_secrets() -> tuple[str, str, str]:
        [(smtp, sendgrid, rate)] = await stack.rows(
            "SELECT data #>> '{settings,smtp,0,password}',"
            " data #>> '{settings,bounce.sendgrid_key}',"
            " data #>> '{settings,app.message_rate}' FROM eventlog.events"
            " WHERE type = 'settings.changed' ORDER BY global_position DESC LIMIT 1")
        return str(smtp), str(sendgrid), str(rate)

    smtp_token, sendgrid_token, _ = await stored_secrets()
    assert smtp_token.startswith("enc:") and sendgrid_token.startswith("enc:")
    async with stack.client() as api:
        for rate in range(11, 26):
            response = await api.put("/api/settings/app.message_rate", json=rate)
            assert response.status_code == 200, response.text
    assert await stored_secrets() == (smtp_token, sendgrid_token, "25")
    live = await stack.runtime.live_settings.refresh()
    assert live.smtp[0].password == SMTP_SECRET and live.bounce_sendgrid_key == SENDGRID_KEY


async def test_another_process_applies_a_put_without_a_restart(stack: SettingsStack) -> None:
    other = LiveSettings(stack.runtime.pool, stack.settings)  # as in another process
    try:
        assert (await other.get()).app_message_rate != 321
        body = await get_settings(stack)
        body["app.message_rate"] = 321
        body["privacy.individual_tracking"] = True
        assert (await put_settings(stack, body)).status_code == 200
        assert await other.wait_for(
            lambda s: s.app_message_rate == 321 and s.privacy_individual_tracking, within=3.0)
    finally:
        await other.close()


async def test_the_process_urls_apply_until_the_api_changes_them(
        stack: SettingsStack) -> None:
    body = await get_settings(stack)
    assert body["app.root_url"] == ROOT_URL.rstrip("/")
    changed = stack.settings.model_copy(update={"root_url": "https://elsewhere.example.org"})
    elsewhere = LiveSettings(stack.runtime.pool, changed)  # a process started with another URL
    try:
        assert (await elsewhere.get()).app_root_url == "https://elsewhere.example.org"
        body["app.root_url"] = "https://lists.example.org/"
        assert (await put_settings(stack, body)).status_code == 200
        assert await elsewhere.wait_for(
            lambda s: s.app_root_url == "https://lists.example.org", within=3.0)
        assert (await get_settings(stack))["app.root_url"] == "https://lists.example.org"
    finally:
        await elsewhere.close()


async def test_admin_reload_answers_true_and_rereads(stack: SettingsStack) -> None:
    async with stack.client() as api:
        response = await api.post("/api/admin/reload")
    assert response.status_code == 200 and response.json() == {"data": True}
    assert stack.runtime.live_settings.version > 0


async def test_settings_need_their_permissions(stack: SettingsStack) -> None:
    async with stack.client(anonymous=True) as anon:
        assert (await anon.get("/api/settings")).status_code == 403
        assert (await anon.put("/api/settings", json={})).status_code == 403
        assert (await anon.post("/api/admin/reload")).status_code == 403


async def test_smtp_test_sends_through_a_saved_server_with_its_masked_password(
        stack: SettingsStack) -> None:
    async with start_smtp_server(auth=True) as smtp:
        body = await get_settings(stack)
        saved = {**body["smtp"][0], "host": "127.0.0.1", "port": smtp.port, "tls_type": "none",
                 "auth_protocol": "login", "username": USER, "password": PASSWORD}
        body["smtp"] = [saved, *body["smtp"][1:]]
        assert (await put_settings(stack, body)).status_code == 200
        shown = (await get_settings(stack))["smtp"][0]
        assert shown["password"] == PASSWORD_MASK * len(PASSWORD)
        async with stack.client() as api:
            response = await api.post("/api/settings/smtp/test",
                                      json={**shown, "email": "check@example.org"})
            assert response.status_code == 200, response.text
            assert isinstance(response.json()["data"], list)
            await smtp.recorder.wait_for(lambda: len(smtp.recorder.messages) == 1)
            [message] = smtp.recorder.messages
            assert message.rcpt_tos == ["check@example.org"] and message.login == USER
            assert message.mail_from == "news@example.org"  # app.from_email's address

            wrong = await api.post("/api/settings/smtp/test", json={
                **shown, "password": "not-it", "email": "check@example.org"})
            assert wrong.status_code == 400 and "535" in wrong.json()["message"]
            missing = await api.post("/api/settings/smtp/test", json=shown)
            assert missing.status_code == 400
            assert missing.json()["message"] == "Missing field(s): email"
            unknown = await api.post("/api/settings/smtp/test", json={
                **shown, "uuid": "", "email": "check@example.org"})
            assert unknown.status_code == 400 and "password" in unknown.json()["message"]


async def test_new_campaigns_and_previews_use_the_settings_from_and_root_url(
        stack: SettingsStack) -> None:
    """``app.from_email`` is the From of a campaign created without one, and ``app.root_url``
    the base of the links a preview renders, as soon as a PUT changes them."""
    body = await get_settings(stack)
    body["app.from_email"] = "Our News <news@lists.example.org>"
    body["app.root_url"] = "https://news.example.org"
    assert (await put_settings(stack, body)).status_code == 200
    async with stack.client() as api:
        listed = (await api.post("/api/lists", json={"name": "from-test"})).json()["data"]
        created = await api.post("/api/campaigns", json={
            "name": "c", "subject": "s", "lists": [listed["id"]],
            "body": '<a href="{{ UnsubscribeURL }}">unsubscribe</a>'})
        assert created.status_code == 200, created.text
        campaign = created.json()["data"]
        assert campaign["from_email"] == "Our News <news@lists.example.org>"
        preview = await api.get(f"/api/campaigns/{campaign['id']}/preview")
        assert "https://news.example.org/subscription/" in preview.text
