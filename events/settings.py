"""Application settings (listmonk's ``/api/settings``) and the event that changes them.

One stream, ``settings-app``. Each ``settings.changed`` carries the whole new settings object,
so a reader never needs the previous event: the last one is the current settings. The object
has listmonk's JSON keys (``app.site_name``, ``smtp``, ``bounce.mailboxes``...) and its defaults
(listmonk's ``schema.sql``); Python attribute names are the keys with ``.`` turned into ``_``
(``app.message_rate`` -> ``app_message_rate``).

Secret fields (``events.settings_secrets``) are stored sealed: in an
event or a read model they hold ``enc:v1:s:...`` tokens (or ``""`` when unset), opened only by
the processes that need them (``services/live_settings.py``). The same Structs hold the open
values in memory, so the sender takes an ``SMTPServer`` whose ``password`` is the real one.

Process settings (``POSTLOG_ROOT_URL``, ``POSTLOG_FROM_EMAIL``) give ``app.root_url`` and
``app.from_email`` until the API changes them: keys listed in ``process_defaults`` follow the
process settings (``default_settings`` / ``effective``).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event

SETTINGS_STREAM = "settings-app"
PASSWORD_MASK = "\u2022"  # listmonk's "•", repeated once per character of the secret
PROCESS_KEYS: tuple[str, ...] = ("app.root_url", "app.from_email")


class SMTPServer(msgspec.Struct, frozen=True, kw_only=True):
    """One SMTP server of ``smtp``: the e-mail messenger's pool for it.

    ``name`` is ``""`` (part of the ``email`` group only) or ``email-<name>`` (also its own
    messenger). Durations are Go duration strings (``"15s"``). ``email_headers`` is a list of
    one-entry ``{name: value}`` maps, as listmonk stores them. Defaults are what listmonk's
    UI fills in for a new server.
    """

    name: str = ""
    uuid: str = ""
    enabled: bool = True
    host: str = ""
    hello_hostname: str = ""
    port: int = 587
    auth_protocol: str = "none"  # none | login | cram | plain
    username: str = ""
    password: str = ""
    email_headers: list[dict[str, str]] = []
    max_conns: int = 10
    max_msg_retries: int = 2
    msg_retry_delay: str = "10ms"
    idle_timeout: str = "15s"
    wait_timeout: str = "5s"
    tls_type: str = "STARTTLS"  # none | STARTTLS | TLS
    tls_skip_verify: bool = False
    from_addresses: list[str] = []
    # postlog's own: messages a second through this server at most, 0 for no limit (listmonk
    # has no per-server limit; a provider's quota is usually per server).
    message_rate: float = 0.0


class PostbackMessenger(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP postback messenger of ``messengers`` (listmonk posts messages to ``root_url``)."""

    uuid: str = ""
    enabled: bool = True
    name: str = ""
    root_url: str = ""
    username: str = ""
    password: str = ""
    max_conns: int = 25
    timeout: str = "5s"
    max_msg_retries: int = 2
    # postlog's own: messages a second through this messenger at most, 0 for no limit.
    message_rate: float = 0.0


class BounceMailbox(msgspec.Struct, frozen=True, kw_only=True):
    """A mailbox of ``bounce.mailboxes`` scanned for bounces (docs/bounces.md, "Mailbox
    scanning"): ``type`` ``pop`` (listmonk's) or ``imap`` (postlog's addition)."""

    uuid: str = ""
    enabled: bool = False
    type: str = "pop"  # pop | imap
    host: str = ""
    port: int = 995
    auth_protocol: str = "userpass"  # none | userpass | cram | plain | login
    return_path: str = ""
    username: str = ""
    password: str = ""
    tls_enabled: bool = True
    tls_skip_verify: bool = False
    scan_interval: str = "15m"
    # The IMAP folder scanned (listmonk's mailbox options name it ``folder``; POP3 has none).
    folder: str = "INBOX"
    # postlog's own: with ``tls_enabled``, connect in plain text and upgrade with STLS (POP3) or
    # STARTTLS (IMAP) instead of connecting with TLS (ports 110/143 rather than 995/993).
    starttls: bool = False


class BounceAction(msgspec.Struct, frozen=True, kw_only=True):
    """What ``count`` bounces of one kind (``soft``, ``hard``, ``complaint``) do to a subscriber."""

    count: int = 1
    action: str = "none"  # none | unsubscribe | blocklist | delete


class Altcha(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False
    complexity: int = 300000


class HCaptcha(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False
    key: str = ""
    secret: str = ""


class Captcha(msgspec.Struct, frozen=True, kw_only=True):
    """``security.captcha``: the public subscription form's captcha."""

    altcha: Altcha = msgspec.field(default_factory=Altcha)
    hcaptcha: HCaptcha = msgspec.field(default_factory=HCaptcha)


class OIDC(msgspec.Struct, frozen=True, kw_only=True):
    """``security.oidc``: single sign-on for admin users."""

    enabled: bool = False
    provider_url: str = ""
    provider_name: str = ""
    client_id: str = ""
    client_secret: str = ""
    auto_create_users: bool = False
    default_user_role_id: int | None = None
    default_list_role_id: int | None = None


class BounceAzure(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False
    shared_secret: str = ""
    shared_secret_header: str = ""


class BouncePostmark(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False
    username: str = ""
    password: str = ""


class BounceKey(msgspec.Struct, frozen=True, kw_only=True):
    """``bounce.forwardemail`` and ``bounce.lettermint``: a webhook with a signing key."""

    enabled: bool = False
    key: str = ""


class MaintenanceDB(msgspec.Struct, frozen=True, kw_only=True):
    vacuum: bool = False
    vacuum_cron_interval: str = "0 2 * * *"


def _default_smtp() -> list[SMTPServer]:
    """listmonk's two example servers (the first enabled). Their uuids are fixed so a client
    that sends them back with the masked password keeps the stored one."""
    return [
        SMTPServer(uuid="0b6e7a8e-4d4c-4f3c-9d1e-5f2b8a7c6d01", enabled=True,
                   host="smtp.yoursite.com", port=25, auth_protocol="cram",
                   username="username", password="password", tls_type="STARTTLS"),
        SMTPServer(uuid="0b6e7a8e-4d4c-4f3c-9d1e-5f2b8a7c6d02", enabled=False,
                   host="smtp.gmail.com", port=465, auth_protocol="login",
                   username="username@gmail.com", password="password", tls_type="TLS"),
    ]


def _default_mailboxes() -> list[BounceMailbox]:
    return [BounceMailbox(uuid="0b6e7a8e-4d4c-4f3c-9d1e-5f2b8a7c6d03", enabled=False,
                          host="pop.yoursite.com", port=995, auth_protocol="userpass",
                          username="username", password="password",
                          return_path="bounce@listmonk.yoursite.com")]


def _default_bounce_actions() -> dict[str, BounceAction]:
    return {"soft": BounceAction(count=2, action="none"),
            "hard": BounceAction(count=1, action="blocklist"),
            "complaint": BounceAction(count=1, action="blocklist")}


def _default_exportable() -> list[str]:
    return ["profile", "subscriptions", "campaign_views", "link_clicks"]


def _default_extensions() -> list[str]:
    return ["jpg", "jpeg", "png", "gif", "svg", "*"]


class AppSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The whole settings object, as ``GET /api/settings`` answers it (masks aside)."""

    app_site_name: str = msgspec.field(default="Mailing list", name="app.site_name")
    app_root_url: str = msgspec.field(default="http://localhost:9000", name="app.root_url")
    app_logo_url: str = msgspec.field(default="", name="app.logo_url")
    app_favicon_url: str = msgspec.field(default="", name="app.favicon_url")
    app_from_email: str = msgspec.field(
        default="listmonk <noreply@listmonk.yoursite.com>", name="app.from_email")
    app_notify_emails: list[str] = msgspec.field(default_factory=list, name="app.notify_emails")
    app_enable_public_subscription_page: bool = msgspec.field(
        default=True, name="app.enable_public_subscription_page")
    app_enable_public_archive: bool = msgspec.field(default=True, name="app.enable_public_archive")
    app_enable_public_archive_rss_content: bool = msgspec.field(
        default=True, name="app.enable_public_archive_rss_content")
    app_show_optin_page: bool = msgspec.field(default=True, name="app.show_optin_page")
    app_send_optin_confirmation: bool = msgspec.field(
        default=True, name="app.send_optin_confirmation")
    app_check_updates: bool = msgspec.field(default=True, name="app.check_updates")
    app_lang: str = msgspec.field(default="en", name="app.lang")
    app_batch_size: int = msgspec.field(default=1000, name="app.batch_size")
    app_concurrency: int = msgspec.field(default=10, name="app.concurrency")
    app_max_send_errors: int = msgspec.field(default=1000, name="app.max_send_errors")
    app_message_rate: int = msgspec.field(default=10, name="app.message_rate")
    app_cache_slow_queries: bool = msgspec.field(default=False, name="app.cache_slow_queries")
    app_cache_slow_queries_interval: str = msgspec.field(
        default="0 3 * * *", name="app.cache_slow_queries_interval")
    app_message_sliding_window: bool = msgspec.field(
        default=False, name="app.message_sliding_window")
    app_message_sliding_window_duration: str = msgspec.field(
        default="1h", name="app.message_sliding_window_duration")
    app_message_sliding_window_rate: int = msgspec.field(
        default=10000, name="app.message_sliding_window_rate")

    privacy_individual_tracking: bool = msgspec.field(
        default=False, name="privacy.individual_tracking")
    privacy_disable_tracking: bool = msgspec.field(default=False, name="privacy.disable_tracking")
    privacy_unsubscribe_header: bool = msgspec.field(
        default=True, name="privacy.unsubscribe_header")
    privacy_allow_blocklist: bool = msgspec.field(default=True, name="privacy.allow_blocklist")
    privacy_allow_preferences: bool = msgspec.field(default=True, name="privacy.allow_preferences")
    privacy_allow_export: bool = msgspec.field(default=True, name="privacy.allow_export")
    privacy_allow_wipe: bool = msgspec.field(default=True, name="privacy.allow_wipe")
    privacy_exportable: list[str] = msgspec.field(
        default_factory=_default_exportable, name="privacy.exportable")
    privacy_record_optin_ip: bool = msgspec.field(default=False, name="privacy.record_optin_ip")
    privacy_domain_blocklist: list[str] = msgspec.field(
        default_factory=list, name="privacy.domain_blocklist")
    privacy_domain_allowlist: list[str] = msgspec.field(
        default_factory=list, name="privacy.domain_allowlist")

    security_captcha: Captcha = msgspec.field(default_factory=Captcha, name="security.captcha")
    security_oidc: OIDC = msgspec.field(default_factory=OIDC, name="security.oidc")
    security_trusted_urls: list[str] = msgspec.field(
        default_factory=list, name="security.trusted_urls")

    upload_provider: str = msgspec.field(default="filesystem", name="upload.provider")
    upload_extensions: list[str] = msgspec.field(
        default_factory=_default_extensions, name="upload.extensions")
    upload_filesystem_upload_path: str = msgspec.field(
        default="uploads", name="upload.filesystem.upload_path")
    upload_filesystem_upload_uri: str = msgspec.field(
        default="/uploads", name="upload.filesystem.upload_uri")
    upload_s3_url: str = msgspec.field(
        default="https://ap-south-1.s3.amazonaws.com", name="upload.s3.url")
    upload_s3_public_url: str = msgspec.field(default="", name="upload.s3.public_url")
    upload_s3_aws_access_key_id: str = msgspec.field(default="", name="upload.s3.aws_access_key_id")
    upload_s3_aws_default_region: str = msgspec.field(
        default="ap-south-1", name="upload.s3.aws_default_region")
    upload_s3_aws_secret_access_key: str = msgspec.field(
        default="", name="upload.s3.aws_secret_access_key")
    upload_s3_bucket: str = msgspec.field(default="", name="upload.s3.bucket")
    upload_s3_bucket_domain: str = msgspec.field(default="", name="upload.s3.bucket_domain")
    upload_s3_bucket_path: str = msgspec.field(default="/", name="upload.s3.bucket_path")
    upload_s3_bucket_type: str = msgspec.field(default="public", name="upload.s3.bucket_type")
    upload_s3_expiry: str = msgspec.field(default="167h", name="upload.s3.expiry")
    # KB, listmonk's schema default; enforced on uploads (docs/media.md)
    upload_max_file_size: int = msgspec.field(default=5000, name="upload.max_file_size")

    smtp: list[SMTPServer] = msgspec.field(default_factory=_default_smtp)
    messengers: list[PostbackMessenger] = []

    bounce_enabled: bool = msgspec.field(default=False, name="bounce.enabled")
    bounce_webhooks_enabled: bool = msgspec.field(default=False, name="bounce.webhooks_enabled")
    bounce_actions: dict[str, BounceAction] = msgspec.field(
        default_factory=_default_bounce_actions, name="bounce.actions")
    bounce_ses_enabled: bool = msgspec.field(default=False, name="bounce.ses_enabled")
    bounce_sendgrid_enabled: bool = msgspec.field(default=False, name="bounce.sendgrid_enabled")
    bounce_sendgrid_key: str = msgspec.field(default="", name="bounce.sendgrid_key")
    bounce_azure: BounceAzure = msgspec.field(default_factory=BounceAzure, name="bounce.azure")
    bounce_postmark: BouncePostmark = msgspec.field(
        default_factory=BouncePostmark, name="bounce.postmark")
    bounce_forwardemail: BounceKey = msgspec.field(
        default_factory=BounceKey, name="bounce.forwardemail")
    bounce_lettermint: BounceKey = msgspec.field(
        default_factory=BounceKey, name="bounce.lettermint")
    bounce_mailboxes: list[BounceMailbox] = msgspec.field(
        default_factory=_default_mailboxes, name="bounce.mailboxes")

    maintenance_db: MaintenanceDB = msgspec.field(
        default_factory=MaintenanceDB, name="maintenance.db")

    appearance_admin_custom_css: str = msgspec.field(default="", name="appearance.admin.custom_css")
    appearance_admin_custom_js: str = msgspec.field(default="", name="appearance.admin.custom_js")
    appearance_public_custom_css: str = msgspec.field(
        default="", name="appearance.public.custom_css")
    appearance_public_custom_js: str = msgspec.field(default="", name="appearance.public.custom_js")


class SettingsChanged(Event, tag="settings.changed", kw_only=True, frozen=True):
    """The settings became ``settings`` (the whole object, secret fields sealed).

    ``key_id`` names the settings data key that sealed the secrets (``eventlog.settings_keys``).
    ``secret_lengths`` maps each set secret's path
    (``/smtp/<uuid>/password``, see ``events.settings_secrets``) to its length in characters,
    for the masks GET shows as listmonk does (the ciphertext's size tells as much).
    ``changed`` lists the top-level keys whose value changed (for audit);
    ``process_defaults`` the keys that still follow the process settings (``PROCESS_KEYS``)
    because the API never changed them.
    """

    CATEGORY = "settings"
    settings: AppSettings
    key_id: int = 0
    secret_lengths: dict[str, int] = {}
    changed: list[str] = []
    process_defaults: list[str] = []
    at: datetime


SettingsEvent = SettingsChanged


def setting_keys() -> tuple[str, ...]:
    """Every top-level JSON key of the settings object, in listmonk's order."""
    return tuple(f.encode_name for f in msgspec.structs.fields(AppSettings))


def default_settings(*, root_url: str | None = None, from_email: str | None = None) -> AppSettings:
    """listmonk's defaults, with the process settings' root URL and From address when given."""
    base = AppSettings()
    changes: dict[str, str] = {}
    if root_url is not None:
        changes["app_root_url"] = root_url.rstrip("/")
    if from_email is not None:
        changes["app_from_email"] = from_email
    return msgspec.structs.replace(base, **changes) if changes else base


def effective(settings: AppSettings, process_defaults: list[str] | tuple[str, ...], *,
              root_url: str, from_email: str) -> AppSettings:
    """``settings`` with the keys in ``process_defaults`` taken from the process settings."""
    changes: dict[str, str] = {}
    if "app.root_url" in process_defaults:
        changes["app_root_url"] = root_url.rstrip("/")
    if "app.from_email" in process_defaults:
        changes["app_from_email"] = from_email
    return msgspec.structs.replace(settings, **changes) if changes else settings


def settings_to_json(settings: AppSettings) -> dict[str, object]:
    """The settings as listmonk's JSON object (builtins: dicts, lists, str, int, bool)."""
    out: dict[str, object] = msgspec.to_builtins(settings)
    return out
