"""The settings object (listmonk's keys and defaults) and its secrets: sealed, opened, masked."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import msgspec
import pytest

from events.crypto import DecryptionError, KeyUnavailable, is_encrypted
from events.registry import decode_event, encode_data
from events.settings import (
    PASSWORD_MASK,
    AppSettings,
    PostbackMessenger,
    SettingsChanged,
    SMTPServer,
    default_settings,
    effective,
    setting_keys,
)
from events.settings_secrets import (
    is_mask,
    masked,
    open_secrets,
    seal_secrets,
    secrets_of,
)

KEY = os.urandom(32)

LISTMONK_KEYS = {
    "app.site_name", "app.root_url", "app.logo_url", "app.favicon_url", "app.from_email",
    "app.notify_emails", "app.enable_public_subscription_page", "app.enable_public_archive",
    "app.enable_public_archive_rss_content", "app.show_optin_page",
    "app.send_optin_confirmation", "app.check_updates", "app.lang", "app.batch_size",
    "app.concurrency", "app.max_send_errors", "app.message_rate", "app.cache_slow_queries",
    "app.cache_slow_queries_interval", "app.message_sliding_window",
    "app.message_sliding_window_duration", "app.message_sliding_window_rate",
    "privacy.individual_tracking", "privacy.disable_tracking", "privacy.unsubscribe_header",
    "privacy.allow_blocklist", "privacy.allow_preferences", "privacy.allow_export",
    "privacy.allow_wipe", "privacy.exportable", "privacy.record_optin_ip",
    "privacy.domain_blocklist", "privacy.domain_allowlist", "security.captcha",
    "security.oidc", "security.trusted_urls", "upload.provider", "upload.extensions",
    "upload.filesystem.upload_path", "upload.filesystem.upload_uri", "upload.s3.url",
    "upload.s3.public_url", "upload.s3.aws_access_key_id", "upload.s3.aws_default_region",
    "upload.s3.aws_secret_access_key", "upload.s3.bucket", "upload.s3.bucket_domain",
    "upload.s3.bucket_path", "upload.s3.bucket_type", "upload.s3.expiry", "smtp",
    "upload.max_file_size",  # in listmonk's schema (settings table), not in its Go model
    "messengers", "bounce.enabled", "bounce.webhooks_enabled", "bounce.actions",
    "bounce.ses_enabled", "bounce.sendgrid_enabled", "bounce.sendgrid_key", "bounce.azure",
    "bounce.postmark", "bounce.forwardemail", "bounce.lettermint", "bounce.mailboxes",
    "maintenance.db", "appearance.admin.custom_css", "appearance.admin.custom_js",
    "appearance.public.custom_css", "appearance.public.custom_js",
}


def with_every_secret() -> AppSettings:
    r = msgspec.structs.replace
    s = AppSettings()
    return r(s,
             smtp=[r(s.smtp[0], password="smtp-pass"), r(s.smtp[1], password="")],
             messengers=[PostbackMessenger(uuid="m1", name="sms", password="msg-pass")],
             upload_s3_aws_secret_access_key="s3", bounce_sendgrid_key="sg",
             bounce_postmark=r(s.bounce_postmark, password="pm"),
             bounce_forwardemail=r(s.bounce_forwardemail, key="fe"),
             bounce_lettermint=r(s.bounce_lettermint, key="lm"),
             bounce_azure=r(s.bounce_azure, shared_secret="az"),
             security_captcha=r(s.security_captcha,
                                hcaptcha=r(s.security_captcha.hcaptcha, secret="hc")),
             security_oidc=r(s.security_oidc, client_secret="oidc"))


def test_the_object_has_every_listmonk_key_with_its_json_name() -> None:
    assert set(setting_keys()) == LISTMONK_KEYS
    assert set(msgspec.to_builtins(AppSettings())) == LISTMONK_KEYS


def test_defaults_are_listmonks_schema_values() -> None:
    s = msgspec.to_builtins(AppSettings())
    assert s["app.site_name"] == "Mailing list" and s["app.batch_size"] == 1000
    assert s["app.message_sliding_window_duration"] == "1h"
    assert s["app.message_sliding_window_rate"] == 10000
    assert s["security.captcha"] == {"altcha": {"enabled": False, "complexity": 300000},
                                     "hcaptcha": {"enabled": False, "key": "", "secret": ""}}
    assert s["upload.extensions"] == ["jpg", "jpeg", "png", "gif", "svg", "*"]
    assert s["upload.s3.expiry"] == "167h"
    assert [x["enabled"] for x in s["smtp"]] == [True, False]
    assert s["smtp"][0]["auth_protocol"] == "cram" and s["smtp"][1]["tls_type"] == "TLS"
    assert s["bounce.mailboxes"][0]["scan_interval"] == "15m"
    assert s["bounce.actions"]["soft"] == {"count": 2, "action": "none"}


def test_the_process_settings_give_root_url_and_from_email_until_changed() -> None:
    s = default_settings(root_url="https://x.example/", from_email="X <x@example>")
    assert (s.app_root_url, s.app_from_email) == ("https://x.example", "X <x@example>")
    stored = msgspec.structs.replace(s, app_root_url="https://kept", app_from_email="kept")
    followed = effective(stored, ["app.from_email"], root_url="https://p", from_email="P")
    assert (followed.app_root_url, followed.app_from_email) == ("https://kept", "P")


def test_the_event_round_trips_through_the_codec() -> None:
    sealed, lengths = seal_secrets(with_every_secret(), KEY)
    event = SettingsChanged(settings=sealed, key_id=1, secret_lengths=lengths,
                            changed=["smtp"], at=datetime(2024, 1, 1, tzinfo=UTC))
    assert decode_event("settings.changed", 1, encode_data(event)) == event


def test_every_secret_is_sealed_and_opens_again() -> None:
    settings = with_every_secret()
    sealed, lengths = seal_secrets(settings, KEY)
    values = secrets_of(sealed)
    assert len(values) == 12  # 2 SMTP + 1 messenger + 1 mailbox + 8 other secrets
    assert all(is_encrypted(v) for v in values.values() if v)
    assert values[f"/smtp/{settings.smtp[1].uuid}/password"] == ""  # empty stays empty
    assert b"smtp-pass" not in msgspec.json.encode(sealed)
    assert lengths["/messengers/m1/password"] == len("msg-pass")
    assert open_secrets(sealed, KEY) == settings


def test_a_sealed_secret_does_not_open_under_another_path_or_key() -> None:
    sealed, _ = seal_secrets(with_every_secret(), KEY)
    first = sealed.smtp[0]
    moved = msgspec.structs.replace(sealed, smtp=[msgspec.structs.replace(
        sealed.smtp[1], password=first.password), first])
    with pytest.raises(DecryptionError):
        open_secrets(moved, KEY)
    with pytest.raises(DecryptionError):
        open_secrets(sealed, os.urandom(32))
    with pytest.raises(KeyUnavailable):
        open_secrets(sealed, None)


def test_masks_repeat_the_bullet_once_per_character_as_listmonk() -> None:
    settings = msgspec.structs.replace(AppSettings(), smtp=[SMTPServer(uuid="a",
                                                                      password="pässwörd")])
    sealed, lengths = seal_secrets(settings, KEY)
    assert masked(settings, {}).smtp[0].password == PASSWORD_MASK * 8
    assert masked(sealed, lengths).smtp[0].password == PASSWORD_MASK * 8
    assert masked(sealed, lengths).bounce_mailboxes[0].password == PASSWORD_MASK * 8
    assert is_mask(PASSWORD_MASK * 3) and not is_mask("") and not is_mask("a" + PASSWORD_MASK)
