"""TOTP two-factor login (RFC 6238, as listmonk's pquerna/otp: SHA-1, 6 digits, 30 s steps,
one step of clock skew either way), with pyotp; QR codes with segno.

The secret is a secret: ``eventlog.api_users.twofa_key`` holds it sealed with the user's data
key (aad ``user:<id>:twofa_key``, ``events/user_keys.py``), so deleting the user shreds it, and
no event ever carries it. A code is accepted once: the time step it matched is remembered
(``twofa_last_step``) and a code of that step or an earlier one is refused.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import pyotp
import segno
from psycopg.rows import tuple_row

from events.user_keys import seal, unseal

STEP_SECONDS = 30
DIGITS = 6
SKEW_STEPS = 1
SECRET_FIELD = "twofa_key"
_SECRET = re.compile(r"^[A-Z2-7]{16,128}$")
_CODE = re.compile(r"^[0-9]{6}$")


def new_secret() -> str:
    """A fresh base32 secret of 160 bits (32 characters, pquerna/otp's default size)."""
    return pyotp.random_base32(32)


def normalise_secret(text: str) -> str | None:
    """A secret as a client sends it back (spaces and padding allowed, any case), or None
    when it is not 16-128 base32 characters."""
    value = re.sub(r"[\s=]", "", text).upper()
    return value if _SECRET.match(value) else None


def valid_code(code: str) -> bool:
    return bool(_CODE.match(code))


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer)


def qr_png_base64(uri: str) -> str:
    """The ``otpauth://`` URI as a PNG QR code, base64 (listmonk's ``qr``)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=5, border=4)
    return base64.b64encode(buffer.getvalue()).decode()


def matching_step(secret: str, code: str, at: datetime,
                  after_step: int | None = None) -> int | None:
    """The time step ``code`` is valid for at ``at`` (within the skew), or None. With
    ``after_step``, a step at or before it does not count (the code was used already)."""
    if not valid_code(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now_step = int(at.timestamp()) // STEP_SECONDS
    for step in range(now_step - SKEW_STEPS, now_step + SKEW_STEPS + 1):
        if after_step is not None and step <= after_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator shows at ``at`` (for tests and the CLI)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(at)


def seal_secret(key: bytes, user_id: int, secret: str) -> str:
    return seal(key, user_id, SECRET_FIELD, secret)


def unseal_secret(key: bytes | None, user_id: int, token: str) -> str:
    return unseal(key, user_id, SECRET_FIELD, token)


@dataclass(frozen=True)
class TwofaState:
    twofa_type: str
    sealed_key: str | None
    last_step: int | None


async def twofa_state(conn: psycopg.AsyncConnection[Any], user_id: int, *,
                      lock: bool = False) -> TwofaState | None:
    """A user's 2FA columns of the credential index (None: no such user)."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT twofa_type, twofa_key, twofa_last_step FROM eventlog.api_users WHERE id = %s"
        + (" FOR UPDATE" if lock else ""), (user_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return TwofaState(str(row[0]), row[1], None if row[2] is None else int(row[2]))
