"""listmonk's settings rules: normalise what a client sent and refuse what cannot work.

Pure functions over ``events.settings.AppSettings``; a refusal is ``InvalidInput`` (400) whose
message names the field (``Invalid fields: smtp[1].port (between 1 and 65535)``), in listmonk's
words where it has them (``At least one SMTP block should be enabled``). The order follows
listmonk's ``UpdateSettings``: SMTP names and hosts, the root URL, bounce mailboxes,
messengers, OIDC, upload extensions, domain lists, trusted URLs, the slow-query cron; then
what listmonk's UI enforces and its sender assumes (rates of at least 1, ports, durations that
parse, known enum values) and the text rules every event obeys (``events.validation``).
Secrets are not looked at here (they are sealed by then; ``secrets.py`` checks them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import msgspec

from events.crypto import is_encrypted
from events.settings import AppSettings, BounceMailbox, PostbackMessenger, SMTPServer
from events.settings_secrets import secrets_of
from events.validation import LINE_MAX_BYTES, check_line, check_text
from kernel.errors import InvalidInput

NO_SMTP = "At least one SMTP block should be enabled"
INVALID_MESSENGER_NAME = "Invalid messenger name."
SCAN_INTERVAL = "Bounce scan interval should be minimum 1 minute."
EMAIL_MESSENGER = "email"  # the group of every SMTP server: a reserved name

SMTP_AUTH = ("none", "login", "cram", "plain")
SMTP_TLS = ("none", "STARTTLS", "TLS")
MAILBOX_AUTH = ("none", "userpass", "cram", "plain", "login")
MAILBOX_TYPES = ("pop", "imap")  # imap: postlog's addition (services/sender/bounce_mailbox)
BOUNCE_KINDS = ("soft", "hard", "complaint")
BOUNCE_ACTIONS = ("none", "unsubscribe", "blocklist", "delete")
UPLOAD_PROVIDERS = ("filesystem", "s3")
MULTILINE_KEYS = frozenset({"appearance.admin.custom_css", "appearance.admin.custom_js",
                            "appearance.public.custom_css", "appearance.public.custom_js"})

_NOT_SMTP_NAME = re.compile(r"[^a-z0-9\-]")
_GO_DURATION = re.compile(r"[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3,
                 "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def invalid(field: str, why: str) -> InvalidInput:
    """listmonk's ``Invalid fields: <name>`` with the reason."""
    return InvalidInput(f"Invalid fields: {field} ({why})")


def normalise(s: AppSettings) -> AppSettings:
    """The settings as they will be stored, or ``InvalidInput`` naming the first bad field."""
    r = msgspec.structs.replace
    names = {EMAIL_MESSENGER}
    smtp = [smtp_server(x, f"smtp[{i}]", names) for i, x in enumerate(s.smtp)]
    if not any(x.enabled for x in smtp):
        raise InvalidInput(NO_SMTP)
    mailboxes = [_mailbox(i, x) for i, x in enumerate(s.bounce_mailboxes)]
    messengers = [_messenger(i, x, names) for i, x in enumerate(s.messengers)]
    oidc = s.security_oidc
    if oidc.auto_create_users and (oidc.default_user_role_id or 0) < 1:
        raise invalid("security.oidc.default_user_role_id", "a role is needed to create users")
    out = r(
        s,
        smtp=smtp, bounce_mailboxes=mailboxes, messengers=messengers,
        app_root_url=s.app_root_url.rstrip("/"),
        upload_extensions=[e.strip().removeprefix(".").lower() for e in s.upload_extensions],
        privacy_domain_blocklist=_domains(s.privacy_domain_blocklist),
        privacy_domain_allowlist=_domains(s.privacy_domain_allowlist),
        security_trusted_urls=_trusted_urls(s.security_trusted_urls),
    )
    if out.app_cache_slow_queries:
        _cron(out.app_cache_slow_queries_interval, "app.cache_slow_queries_interval")
    if out.maintenance_db.vacuum:
        _cron(out.maintenance_db.vacuum_cron_interval, "maintenance.db.vacuum_cron_interval")
    _check_sending(out)
    _check_others(out)
    check_texts(out)
    return out


def smtp_server(x: SMTPServer, field: str, names: set[str]) -> SMTPServer:
    """One SMTP server normalised (name ``email-<name>``, host trimmed, from addresses
    lower-cased) and checked; ``names`` are the messenger names taken so far. ``field``
    prefixes the names of bad fields (``smtp[1]``; ``""`` for a server on its own)."""
    at = f"{field}." if field else ""
    name = _NOT_SMTP_NAME.sub("-", x.name.strip().lower())
    if name:
        if not name.startswith("email-"):
            name = "email-" + name
        if name in names:
            raise InvalidInput(f"Duplicate messenger name: {name}")
        names.add(name)
    _port(x.port, f"{at}port")
    _at_least(x.max_conns, 1, f"{at}max_conns")
    _at_least(x.max_msg_retries, 0, f"{at}max_msg_retries")
    _rate(x.message_rate, f"{at}message_rate")
    for key in ("msg_retry_delay", "idle_timeout", "wait_timeout"):
        duration_seconds(getattr(x, key), f"{at}{key}")
    _one_of(x.auth_protocol, SMTP_AUTH, f"{at}auth_protocol")
    _one_of(x.tls_type, SMTP_TLS, f"{at}tls_type")
    addresses = x.from_addresses
    if x.enabled:  # listmonk normalises only the enabled servers' addresses
        addresses = [a for a in (a.strip().lower() for a in addresses) if a]
    return msgspec.structs.replace(x, name=name, host=x.host.strip(),
                                   from_addresses=addresses)


def _mailbox(i: int, x: BounceMailbox) -> BounceMailbox:
    field = f"bounce.mailboxes[{i}]"
    try:
        minutes = duration_seconds(x.scan_interval, f"{field}.scan_interval") / 60
    except InvalidInput:
        minutes = 0.0
    if minutes < 1:
        raise InvalidInput(f"{SCAN_INTERVAL} ({field}.scan_interval)")
    _port(x.port, f"{field}.port")
    _one_of(x.type, MAILBOX_TYPES, f"{field}.type")
    _one_of(x.auth_protocol, MAILBOX_AUTH, f"{field}.auth_protocol")
    return msgspec.structs.replace(x, host=x.host.strip())


def _messenger(i: int, x: PostbackMessenger, names: set[str]) -> PostbackMessenger:
    field = f"messengers[{i}]"
    name = re.sub(r"[^a-z0-9\-]", "", x.name.lower())
    if name in names:
        raise InvalidInput(f"Duplicate messenger name: {name}")
    if not name:
        raise InvalidInput(f"{INVALID_MESSENGER_NAME} ({field}.name)")
    names.add(name)
    if x.enabled:
        _http_url(x.root_url.strip(), f"{field}.root_url")
    _at_least(x.max_conns, 1, f"{field}.max_conns")
    _at_least(x.max_msg_retries, 0, f"{field}.max_msg_retries")
    _rate(x.message_rate, f"{field}.message_rate")
    duration_seconds(x.timeout, f"{field}.timeout")
    return msgspec.structs.replace(x, name=name, root_url=x.root_url.strip())


def _domains(values: list[str]) -> list[str]:
    return [d for d in (v.strip().lower() for v in values) if d]


def _trusted_urls(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in (v.strip() for v in values):
        if not value:
            continue
        if value != "*":
            _http_url(value, "security.trusted_urls", message="Invalid data: invalid trusted URL")
        out.append(value)
    return out


def _check_sending(s: AppSettings) -> None:
    """What listmonk's UI enforces on the performance tab (its sender clamps them to 1)."""
    _at_least(s.app_concurrency, 1, "app.concurrency")
    _at_least(s.app_message_rate, 1, "app.message_rate")
    _at_least(s.app_batch_size, 1, "app.batch_size")
    _at_least(s.app_max_send_errors, 0, "app.max_send_errors")
    _at_least(s.app_message_sliding_window_rate, 1, "app.message_sliding_window_rate")
    window = duration_seconds(s.app_message_sliding_window_duration,
                              "app.message_sliding_window_duration")
    if s.app_message_sliding_window and window <= 0:
        raise invalid("app.message_sliding_window_duration", "must be longer than 0")


def _check_others(s: AppSettings) -> None:
    _one_of(s.upload_provider, UPLOAD_PROVIDERS, "upload.provider")
    if s.upload_s3_expiry.strip():
        duration_seconds(s.upload_s3_expiry, "upload.s3.expiry")
    for kind, action in s.bounce_actions.items():
        _one_of(kind, BOUNCE_KINDS, "bounce.actions")
        _one_of(action.action, BOUNCE_ACTIONS, f"bounce.actions.{kind}.action")
        _at_least(action.count, 1, f"bounce.actions.{kind}.count")
    _at_least(s.security_captcha.altcha.complexity, 1, "security.captcha.altcha.complexity")


def check_texts(s: AppSettings) -> None:
    """Every text of the settings obeys the event rules: one line (at most
    ``LINE_MAX_BYTES``) except the custom CSS/JS, which may span lines. Sealed secrets were
    checked before sealing (``secrets.py``)."""
    sealed = {v for v in secrets_of(s).values() if is_encrypted(v)}
    for field, value in _texts(msgspec.to_builtins(s), ""):
        if value in sealed:
            continue
        top = field.split("[", 1)[0]
        if top in MULTILINE_KEYS:
            check_text(value, field)
        else:
            check_line(value, field, LINE_MAX_BYTES)


def _texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield path or key, key
            yield from _texts(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _texts(child, f"{path}[{i}]")


def duration_seconds(text: str, field: str) -> float:
    """A Go duration string (``"15s"``, ``"1h30m"``, ``"10ms"``) in seconds, as listmonk
    parses them; otherwise ``InvalidInput`` naming the field."""
    value = text.strip()
    if not _GO_DURATION.fullmatch(value):
        raise invalid(field, f"{text!r} is not a duration such as 5s, 10m or 1h")
    sign = -1.0 if value.startswith("-") else 1.0
    return sign * sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))


def _rate(value: float, field: str) -> None:
    if not 0 <= value <= 1_000_000:
        raise invalid(field, "must be between 0 (no limit) and 1000000 messages a second")


def _at_least(value: int, low: int, field: str) -> None:
    if value < low:
        raise invalid(field, f"must be at least {low}")


def _port(value: int, field: str) -> None:
    if not 1 <= value <= 65535:
        raise invalid(field, "between 1 and 65535")


def _one_of(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise invalid(field, f"one of {', '.join(allowed)}")


def _http_url(value: str, field: str, message: str | None = None) -> None:
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise InvalidInput(f"{message}: {value}" if message else
                           f"Invalid fields: {field} (an http(s) URL)")


# --- cron (robfig/cron's ParseStandard: five fields or a descriptor) ------------------------

_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_CRON_NAMES: tuple[dict[str, int], ...] = ({}, {}, {},
               {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul",
                                                "aug", "sep", "oct", "nov", "dec"))},
               {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))})
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def _cron(spec: str, field: str) -> None:
    text = spec.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        _, _, text = text.partition(" ")
        text = text.strip()
    if text in _DESCRIPTORS:
        return
    if text.startswith("@every "):
        if duration_seconds(text[len("@every "):], field) <= 0:
            raise invalid(field, "@every needs a positive duration")
        return
    parts = text.split()
    if len(parts) != 5:
        raise invalid(field, f"{spec!r} is not a cron expression of five fields")
    for part, (low, high), names in zip(parts, _CRON_RANGES, _CRON_NAMES, strict=True):
        for item in part.split(","):
            if not _cron_item(item.lower(), low, high, names):
                raise invalid(field, f"{spec!r} is not a valid cron expression")


def _cron_item(item: str, low: int, high: int, names: dict[str, int]) -> bool:
    base, _, step = item.partition("/")
    if step and not (step.isdigit() and int(step) > 0):
        return False
    if base in ("*", "?"):
        return True
    start, _, end = base.partition("-")
    bounds = [names.get(v, int(v) if v.isdigit() else -1) for v in (start, end or start)]
    return all(low <= b <= high for b in bounds) and bounds[0] <= bounds[1]
