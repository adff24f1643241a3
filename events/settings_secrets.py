"""The secrets inside the settings: where they are, how they are sealed, masked and keyed.

Secrets (SMTP, messenger and bounce mailbox passwords, the S3 secret key, the sendgrid,
forwardemail and lettermint keys, postmark's password, azure's shared secret, hcaptcha's secret,
the OIDC client secret) are named by paths into the settings object, items of the arrays by
their uuid (``/smtp/<uuid>/password``, ``/upload.s3.aws_secret_access_key``,
``/security.captcha/hcaptcha/secret``): a sealed secret stays valid when its server moves in
the list, and a PUT that sends a server back with the mask keeps the stored token as it is.

In events and read models each non-empty secret is an AES-GCM token (``events.crypto``'s
``enc:v1:s:...``) sealed with the settings data key and bound to its path (aad
``settings:<path>``). There is one settings key per installation, in
``eventlog.settings_keys``, wrapped with ``POSTLOG_MASTER_KEY`` when one is set, so the log,
NATS and exports never hold a secret in clear, and a copy of the key table alone opens nothing.
Unlike subscribers' keys it is never destroyed: settings are not personal data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import msgspec
import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg.rows import tuple_row

from events.crypto import (
    KEY_BYTES,
    NONCE_BYTES,
    KeyUnavailable,
    decrypt_value,
    encrypt_value,
    is_encrypted,
    new_data_key,
)
from events.settings import PASSWORD_MASK, AppSettings

SecretFn = Callable[[str, str], str]
"""``fn(path, value) -> new value``, applied to every secret field."""

_WRAPPED_PREFIX = b"w1"
CURRENT_KEY_ID = 1


def item_path(array: str, index: int, uuid: str) -> str:
    """The path of the password of an item of ``smtp``, ``messengers`` or ``bounce.mailboxes``:
    by uuid (``/smtp/<uuid>/password``), by position for an item without one (``/smtp/#0/...``).
    """
    return f"/{array}/{uuid or f'#{index}'}/password"


def map_secrets(settings: AppSettings, fn: SecretFn) -> AppSettings:
    """``settings`` with each secret field replaced by ``fn(path, value)``."""
    r = msgspec.structs.replace
    s = settings
    captcha = s.security_captcha
    return r(
        s,
        smtp=[r(x, password=fn(item_path("smtp", i, x.uuid), x.password))
              for i, x in enumerate(s.smtp)],
        messengers=[r(x, password=fn(item_path("messengers", i, x.uuid), x.password))
                    for i, x in enumerate(s.messengers)],
        bounce_mailboxes=[r(x, password=fn(item_path("bounce.mailboxes", i, x.uuid),
                                           x.password))
                          for i, x in enumerate(s.bounce_mailboxes)],
        upload_s3_aws_secret_access_key=fn("/upload.s3.aws_secret_access_key",
                                           s.upload_s3_aws_secret_access_key),
        bounce_sendgrid_key=fn("/bounce.sendgrid_key", s.bounce_sendgrid_key),
        bounce_postmark=r(s.bounce_postmark,
                          password=fn("/bounce.postmark/password", s.bounce_postmark.password)),
        bounce_forwardemail=r(s.bounce_forwardemail,
                              key=fn("/bounce.forwardemail/key", s.bounce_forwardemail.key)),
        bounce_lettermint=r(s.bounce_lettermint,
                            key=fn("/bounce.lettermint/key", s.bounce_lettermint.key)),
        bounce_azure=r(s.bounce_azure, shared_secret=fn("/bounce.azure/shared_secret",
                                                        s.bounce_azure.shared_secret)),
        security_captcha=r(captcha, hcaptcha=r(captcha.hcaptcha, secret=fn(
            "/security.captcha/hcaptcha/secret", captcha.hcaptcha.secret))),
        security_oidc=r(s.security_oidc, client_secret=fn("/security.oidc/client_secret",
                                                          s.security_oidc.client_secret)),
    )


def secrets_of(settings: AppSettings) -> dict[str, str]:
    """Every secret field by path, as stored in ``settings`` (sealed or open)."""
    found: dict[str, str] = {}

    def record(path: str, value: str) -> str:
        found[path] = value
        return value

    map_secrets(settings, record)
    return found


def is_mask(value: str) -> bool:
    """A value GET gave for a secret (``•`` repeated), sent back to mean "keep it"."""
    return bool(value) and value.strip(PASSWORD_MASK) == ""


def mask(value: str) -> str:
    """listmonk's mask of a secret: one ``•`` per character (``""`` stays ``""``)."""
    return PASSWORD_MASK * len(value)


def masked(settings: AppSettings, secret_lengths: dict[str, int]) -> AppSettings:
    """What ``GET /api/settings`` shows: each set secret as ``•`` times its length.

    ``settings`` may hold sealed tokens (lengths then come from ``secret_lengths``) or open
    values (their own lengths)."""

    def hide(path: str, value: str) -> str:
        if not value:
            return ""
        if is_encrypted(value):
            return PASSWORD_MASK * max(1, secret_lengths.get(path, 8))
        return mask(value)

    return map_secrets(settings, hide)


def settings_aad(path: str) -> bytes:
    """The aad binding a sealed secret to its path (``settings:/smtp/<uuid>/password``)."""
    return f"settings:{path}".encode()


def seal_secrets(settings: AppSettings, key: bytes) -> tuple[AppSettings, dict[str, int]]:
    """``settings`` with every non-empty secret sealed with ``key``, and each one's length.

    Values already sealed are refused (``ValueError``): sealing takes open values only."""
    lengths: dict[str, int] = {}
    aead_key = key

    def seal(path: str, value: str) -> str:
        if not value:
            return ""
        if is_encrypted(value):
            raise ValueError(f"{path} is already sealed")
        lengths[path] = len(value)
        return encrypt_value(aead_key, value, settings_aad(path))

    return map_secrets(settings, seal), lengths


def open_secrets(settings: AppSettings, key: bytes | None) -> AppSettings:
    """``settings`` with every sealed secret opened; values not sealed are kept as they are.

    ``key`` None (no key found) with a sealed value raises ``KeyUnavailable``; a wrong key or a
    token moved to another field raises ``events.crypto.DecryptionError``."""
    aead = AESGCM(key) if key is not None else None

    def open_one(path: str, value: str) -> str:
        if not is_encrypted(value):
            return value
        if aead is None:
            raise KeyUnavailable("the settings key is missing")
        opened: Any = decrypt_value(aead, value, settings_aad(path))
        return str(opened)

    return map_secrets(settings, open_one)


# --- The settings data key ---------------------------------------------------------------

def _wrap(master_key: bytes, key_id: int, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return _WRAPPED_PREFIX + nonce + AESGCM(master_key).encrypt(nonce, key, _key_aad(key_id))


def _unwrap(master_key: bytes | None, key_id: int, stored: bytes) -> bytes:
    if len(stored) == KEY_BYTES:
        return stored
    if not stored.startswith(_WRAPPED_PREFIX):
        raise KeyUnavailable(f"settings key {key_id} has an unknown format")
    if master_key is None:
        raise KeyUnavailable("the settings key is wrapped; set POSTLOG_MASTER_KEY")
    body = stored[len(_WRAPPED_PREFIX):]
    try:
        return AESGCM(master_key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:],
                                          _key_aad(key_id))
    except InvalidTag as exc:
        raise KeyUnavailable("the master key does not unwrap the settings key") from exc


def _key_aad(key_id: int) -> bytes:
    return f"settings:data_key:{key_id}".encode()


async def ensure_settings_key(conn: psycopg.AsyncConnection[Any], *,
                              master_key: bytes | None = None) -> tuple[int, bytes]:
    """The current settings key ``(key_id, key)``, created on first use in the caller's
    transaction (concurrent creators end up with the same key)."""
    fresh = new_data_key()
    stored = _wrap(master_key, CURRENT_KEY_ID, fresh) if master_key else fresh
    await conn.execute(
        "INSERT INTO eventlog.settings_keys (key_id, data_key) VALUES (%s, %s)"
        " ON CONFLICT (key_id) DO NOTHING", (CURRENT_KEY_ID, stored))
    key = await load_settings_key(conn, CURRENT_KEY_ID, master_key=master_key)
    assert key is not None
    return CURRENT_KEY_ID, key


async def load_settings_key(conn: psycopg.AsyncConnection[Any], key_id: int, *,
                            master_key: bytes | None = None) -> bytes | None:
    """The settings key ``key_id`` (None if there is none: no secret was ever sealed)."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT data_key FROM eventlog.settings_keys WHERE key_id = %s", (key_id,))
    row = await cur.fetchone()
    return _unwrap(master_key, key_id, bytes(row[0])) if row else None
