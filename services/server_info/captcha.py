"""The public subscription form's captcha, as listmonk's ``security.captcha`` settings ask:
altcha (a proof of work solved in the browser, checked here) or hCaptcha (checked with
hCaptcha's service). altcha wins when both are enabled, as in listmonk.

The query API signs altcha challenges (``GET /api/public/captcha/altcha`` and the form page)
and the command API checks solutions (``POST /subscription/form``); they may run on different
machines, so the HMAC key lives in PostgreSQL (``eventlog.captcha_keys``, migration 020, made
on first use) rather than in one process's memory as listmonk's. A challenge expires after
``CHALLENGE_SECONDS``; a solution is accepted once (its digest is recorded in
``eventlog.captcha_spent`` until the challenge would have expired).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import psycopg
import structlog
from altcha import v1 as altcha_v1
from psycopg_pool import AsyncConnectionPool

from events.settings import AppSettings

log = structlog.get_logger(__name__)

Provider = Literal["altcha", "hcaptcha", ""]
CHALLENGE_SECONDS = 300  # listmonk's: 5 minutes
PAYLOAD_MAX_CHARS = 4096
HCAPTCHA_VERIFY_URL = "https://hcaptcha.com/siteverify"
HCAPTCHA_TIMEOUT = 5.0
# The form fields listmonk reads the answer from, by provider.
RESPONSE_FIELDS: dict[str, str] = {"altcha": "altcha", "hcaptcha": "h-captcha-response"}

_keys: dict[str, bytes] = {}  # by database (conninfo): the key never changes once made


def provider(settings: AppSettings) -> Provider:
    """The captcha in force: ``altcha``, ``hcaptcha`` or ``""`` (none)."""
    captcha = settings.security_captcha
    if captcha.altcha.enabled:
        return "altcha"
    if captcha.hcaptcha.enabled:
        return "hcaptcha"
    return ""


async def hmac_key(pool: AsyncConnectionPool[Any]) -> bytes:
    """The installation's altcha signing key (created by the first process that needs it)."""
    cached = _keys.get(str(pool.conninfo))
    if cached is not None:
        return cached
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO eventlog.captcha_keys (key_id, hmac_key) VALUES (1, %s)"
            " ON CONFLICT (key_id) DO NOTHING", (secrets.token_bytes(32),))
        cur = await conn.execute("SELECT hmac_key FROM eventlog.captcha_keys WHERE key_id = 1")
        row = await cur.fetchone()
    assert row is not None
    key = bytes(row[0])
    _keys[str(pool.conninfo)] = key
    return key


def new_challenge(key: bytes, complexity: int, now: float | None = None) -> dict[str, Any]:
    """An altcha challenge (the JSON the altcha widget fetches), valid ``CHALLENGE_SECONDS``."""
    expires = datetime.fromtimestamp((now or time.time()) + CHALLENGE_SECONDS, UTC)
    challenge = altcha_v1.create_challenge(altcha_v1.ChallengeOptions(
        algorithm="SHA-256", max_number=max(complexity, 1), salt_length=12, hmac_key=key,
        expires=expires))
    return dict(challenge.to_dict())


def _decode(payload: str) -> dict[str, Any] | None:
    if not payload or len(payload) > PAYLOAD_MAX_CHARS:
        return None
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
    except (ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) else None


def _expiry(data: dict[str, Any]) -> float | None:
    """The expiry a challenge of ours carries in its salt (None if it carries none)."""
    salt = data.get("salt")
    if not isinstance(salt, str) or "?" not in salt:
        return None
    from urllib.parse import parse_qs

    values = parse_qs(salt.split("?", 1)[1]).get("expires", [])
    try:
        return float(values[0]) if len(values) == 1 else None
    except ValueError:
        return None


def check_solution(key: bytes, payload: str, now: float | None = None) -> float | None:
    """The expiry of a valid, unexpired altcha solution signed with ``key``; None otherwise.
    Only what we issued passes: SHA-256, an expiry in the signed salt, the right number."""
    data = _decode(payload)
    if data is None or data.get("algorithm") != "SHA-256":
        return None
    expires = _expiry(data)
    if expires is None or expires < (now or time.time()):
        return None
    number, challenge, salt, signature = (data.get(k) for k in
                                          ("number", "challenge", "salt", "signature"))
    if not (isinstance(number, int) and not isinstance(number, bool)
            and isinstance(challenge, str) and isinstance(salt, str)
            and isinstance(signature, str)):
        return None
    payload_obj = altcha_v1.Payload(algorithm="SHA-256", challenge=challenge, number=number,
                                    salt=salt, signature=signature)
    valid, _error = altcha_v1.verify_solution(payload_obj, key, check_expires=True)
    if not valid:
        return None
    # verify_solution compares with ==; check the signature again in constant time.
    expected = altcha_v1.hmac_hex("SHA-256", challenge.encode(), key)
    return expires if hmac.compare_digest(expected, signature) else None


async def spend(pool: AsyncConnectionPool[Any], payload: str, expires: float) -> bool:
    """Record the solution as used; False if it was used already (anywhere)."""
    digest = hashlib.sha256(payload.encode()).digest()
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM eventlog.captcha_spent WHERE expires_at < now()")
        cur = await conn.execute(
            "INSERT INTO eventlog.captcha_spent (digest, expires_at) VALUES (%s, %s)"
            " ON CONFLICT (digest) DO NOTHING",
            (digest, datetime.fromtimestamp(expires, UTC) + timedelta(seconds=60)))
        return bool(cur.rowcount == 1)


async def verify_hcaptcha(secret: str, token: str) -> bool:
    """hCaptcha's answer for ``token`` (False when hCaptcha cannot be reached)."""
    try:
        async with httpx.AsyncClient(timeout=HCAPTCHA_TIMEOUT) as client:
            reply = await client.post(HCAPTCHA_VERIFY_URL,
                                      data={"secret": secret, "response": token})
        answer: object = reply.json()
        return isinstance(answer, dict) and answer.get("success") is True
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        log.warning("captcha_request_failed", provider="hcaptcha", error=str(exc))
        return False


async def verify(pool: AsyncConnectionPool[Any], settings: AppSettings,
                 answers: dict[str, list[str]]) -> bool:
    """Whether the form's captcha answer (its fields ``answers``) passes the captcha in force
    (True when none is enabled)."""
    kind = provider(settings)
    if not kind:
        return True
    values = answers.get(RESPONSE_FIELDS[kind], [])
    answer = values[0] if values else ""
    if not answer:
        return False
    if kind == "hcaptcha":
        return await verify_hcaptcha(settings.security_captcha.hcaptcha.secret, answer)
    try:
        expires = check_solution(await hmac_key(pool), answer)
        return expires is not None and await spend(pool, answer, expires)
    except psycopg.Error as exc:
        log.error("captcha_check_failed", error=str(exc))
        return False
