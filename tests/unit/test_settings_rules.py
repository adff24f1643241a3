"""listmonk's settings rules: what is normalised, what is refused (with the field named)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from events.settings import AppSettings, BounceMailbox, PostbackMessenger, SMTPServer
from kernel.errors import DomainError, InvalidInput
from services.command_api.settings.binding import assign_uuids, bind, key_body, settings_body
from services.command_api.settings.rules import duration_seconds, normalise

r = msgspec.structs.replace
BASE = AppSettings()


def with_smtp(*servers: SMTPServer, **changes: Any) -> AppSettings:
    return r(BASE, smtp=list(servers), **changes)


def refused(settings: AppSettings) -> str:
    with pytest.raises(DomainError) as caught:  # InvalidInput, or InvalidText for texts
        normalise(settings)
    assert caught.value.status_code == 400
    return caught.value.message


def test_smtp_names_become_email_dash_name_and_hosts_are_trimmed() -> None:
    out = normalise(with_smtp(SMTPServer(name=" My Relay! ", host="  smtp.example.org \n"),
                              SMTPServer(name="email-backup", host="b"),
                              SMTPServer(name="", host="c")))
    assert [s.name for s in out.smtp] == ["email-my-relay-", "email-backup", ""]
    assert out.smtp[0].host == "smtp.example.org"


def test_at_least_one_smtp_server_must_be_enabled() -> None:
    assert refused(with_smtp(SMTPServer(enabled=False, host="a"))) == (
        "At least one SMTP block should be enabled")
    assert refused(with_smtp()) == "At least one SMTP block should be enabled"


def test_duplicate_messenger_names_are_refused_email_is_reserved() -> None:
    same = with_smtp(SMTPServer(name="a", host="x"), SMTPServer(name="email-a", host="y"))
    assert refused(same) == "Duplicate messenger name: email-a"
    reserved = r(BASE, messengers=[PostbackMessenger(name="Email", root_url="https://h")])
    assert refused(reserved) == "Duplicate messenger name: email"
    clash = r(BASE, messengers=[PostbackMessenger(name="sms", root_url="https://h"),
                                PostbackMessenger(name="S.M.S", root_url="https://h")])
    assert refused(clash) == "Duplicate messenger name: sms"
    assert "Invalid messenger name." in refused(r(BASE, messengers=[
        PostbackMessenger(name="!!", root_url="https://h")]))


def test_from_addresses_of_enabled_servers_are_lower_cased_and_cleaned() -> None:
    out = normalise(with_smtp(SMTPServer(host="a", from_addresses=[" News@Example.ORG ", " "]),
                              SMTPServer(host="b", enabled=False, from_addresses=[" X "])))
    assert out.smtp[0].from_addresses == ["news@example.org"]
    assert out.smtp[1].from_addresses == [" X "]  # listmonk leaves disabled ones alone


def test_lists_of_domains_extensions_and_urls_are_normalised() -> None:
    out = normalise(r(BASE, app_root_url="https://lists.example.org///",
                      privacy_domain_blocklist=[" Spam.COM ", ""],
                      upload_extensions=[" .PNG", "jpg"],
                      security_trusted_urls=[" https://a.example ", "*", " "]))
    assert out.app_root_url == "https://lists.example.org"
    assert out.privacy_domain_blocklist == ["spam.com"]
    assert out.upload_extensions == ["png", "jpg"]
    assert out.security_trusted_urls == ["https://a.example", "*"]
    assert "invalid trusted URL: javascript:x" in refused(
        r(BASE, security_trusted_urls=["javascript:x"]))


@pytest.mark.parametrize(("changes", "field"), [
    ({"app_concurrency": 0}, "app.concurrency"),
    ({"app_message_rate": 0}, "app.message_rate"),
    ({"app_batch_size": -1}, "app.batch_size"),
    ({"app_max_send_errors": -1}, "app.max_send_errors"),
    ({"app_message_sliding_window_rate": 0}, "app.message_sliding_window_rate"),
    ({"app_message_sliding_window_duration": "1d"}, "app.message_sliding_window_duration"),
    ({"app_cache_slow_queries": True, "app_cache_slow_queries_interval": "61 * * * *"},
     "app.cache_slow_queries_interval"),
    ({"upload_provider": "ftp"}, "upload.provider"),
    ({"upload_s3_expiry": "a week"}, "upload.s3.expiry"),
    ({"smtp": [SMTPServer(host="a", port=0)]}, "smtp[0].port"),
    ({"smtp": [SMTPServer(host="a", max_conns=0)]}, "smtp[0].max_conns"),
    ({"smtp": [SMTPServer(host="a", wait_timeout="5 s")]}, "smtp[0].wait_timeout"),
    ({"smtp": [SMTPServer(host="a", tls_type="SSL")]}, "smtp[0].tls_type"),
    ({"smtp": [SMTPServer(host="a", auth_protocol="ntlm")]}, "smtp[0].auth_protocol"),
    ({"smtp": [SMTPServer(host="a\u2028b")]}, "smtp[0].host"),
    ({"smtp": [SMTPServer(host="a", email_headers=[{"X-A": "b\nBcc: c"}])]},
     "smtp[0].email_headers[0].X-A"),
    ({"messengers": [PostbackMessenger(name="sms", root_url="sms.example.org")]},
     "messengers[0].root_url"),
    ({"messengers": [PostbackMessenger(name="sms", root_url="https://h", timeout="x")]},
     "messengers[0].timeout"),
    ({"bounce_mailboxes": [BounceMailbox(scan_interval="59s")]},
     "bounce.mailboxes[0].scan_interval"),
    ({"bounce_mailboxes": [BounceMailbox(scan_interval="15m", port=99999)]},
     "bounce.mailboxes[0].port"),
    ({"app_site_name": "x" * 2001}, "app.site_name"),
    ({"maintenance_db": r(BASE.maintenance_db, vacuum=True, vacuum_cron_interval="daily")},
     "maintenance.db.vacuum_cron_interval"),
])
def test_unworkable_values_are_refused_naming_the_field(changes: dict[str, Any],
                                                        field: str) -> None:
    assert field in refused(r(BASE, **changes))


def test_oidc_auto_creation_needs_a_default_role() -> None:
    oidc = r(BASE.security_oidc, auto_create_users=True)
    assert "security.oidc.default_user_role_id" in refused(r(BASE, security_oidc=oidc))
    normalise(r(BASE, security_oidc=r(oidc, default_user_role_id=1)))


def test_custom_css_and_js_may_span_lines() -> None:
    css = "body {\n  color: red;\n}\n"
    assert normalise(r(BASE, appearance_public_custom_css=css)).appearance_public_custom_css \
        == css


@pytest.mark.parametrize(("text", "seconds"), [
    ("15s", 15), ("10ms", 0.01), ("1h30m", 5400), ("0", 0), ("1.5s", 1.5), ("-2m", -120)])
def test_durations_parse_as_go_parses_them(text: str, seconds: float) -> None:
    assert duration_seconds(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1d", "5", "s", "1 h", "1hh"])
def test_what_go_does_not_parse_is_not_a_duration(text: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid fields: x"):
        duration_seconds(text, "x")


def test_a_put_binds_over_the_current_settings_and_names_wrong_types() -> None:
    current = r(BASE, app_site_name="Kept")
    given = settings_body(b'{"app.concurrency": 3, "app.lang": null, "unknown.key": 1,'
                          b' "security.oidc": {"enabled": true, "client_id": null}}')
    out = bind(given, current)
    assert (out.app_site_name, out.app_concurrency, out.app_lang) == ("Kept", 3, "en")
    assert out.security_oidc.enabled and out.security_oidc.client_id == ""
    with pytest.raises(InvalidInput, match=r"Invalid fields: smtp\[0\].port \(expected `int`"):
        bind(settings_body(b'{"smtp": [{"port": "25"}]}'), current)
    with pytest.raises(InvalidInput, match="unknown setting"):
        key_body("app.nothing", b"1")
    assert key_body("app.lang", b'"fr"') == {"app.lang": "fr"}


def test_items_without_a_uuid_or_with_a_repeated_one_get_a_fresh_one() -> None:
    settings = with_smtp(SMTPServer(uuid="", host="a"), SMTPServer(uuid="u1", host="b"),
                         SMTPServer(uuid="u1", host="c"))
    out = assign_uuids(r(settings, messengers=[PostbackMessenger(name="m")]),
                       ["f1", "f2", "f3", "f4"])
    assert [s.uuid for s in out.smtp] == ["f1", "u1", "f2"]
    assert out.messengers[0].uuid == "f3"
