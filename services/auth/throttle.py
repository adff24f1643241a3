"""Brute-force throttling of password and TOTP checks, shared by every process (PostgreSQL).

Failures are counted per username and per client address in ``eventlog.login_throttle``
(keys are sha256 of ``user:<lower-cased name>`` and ``addr:<address>``, never what a visitor
typed). When either counter reaches its limit within the window, that key is locked for the
lockout period: every attempt on it is answered 429 with ``Retry-After`` before any password
is checked (so a locked account gives no oracle). A successful login clears its username's
counter, not its address's. listmonk has no throttling; 429 is HTTP's status for it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from kernel.errors import DomainError

THROTTLED = "Too many failed login attempts. Try again in {minutes} minute(s)."


@dataclass(frozen=True)
class Policy:
    user_limit: int = 5
    address_limit: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


DEFAULT_POLICY = Policy()


class Throttled(DomainError):
    """Too many failures for this username or address: 429 with ``Retry-After``."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(THROTTLED.format(minutes=max(1, math.ceil(retry_after / 60))))
        self.retry_after = retry_after


@dataclass(frozen=True)
class Keys:
    user: str
    address: str

    def limits(self, policy: Policy) -> list[tuple[str, int]]:
        return [(self.user, policy.user_limit), (self.address, policy.address_limit)]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def keys_for(username: str, address: str) -> Keys:
    return Keys(user="user:" + _digest(username.strip().lower()),
                address="addr:" + _digest(address))


def _loopback_or_private(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private


def client_address(scope: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The client's address: the peer's, or the gateway's ``X-Real-IP`` when the peer is a
    loopback or private address (nginx in front, ``deploy/nginx/gateway.conf.template``). A
    client that reaches the service directly from such an address could pick its own."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    forwarded = (headers.get("x-real-ip") or "").strip()
    if forwarded and _loopback_or_private(peer):
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            return peer
    return peer


async def check(pool: AsyncConnectionPool[Any], keys: Keys) -> None:
    """Raise ``Throttled`` while the username or the address is locked."""
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT ceil(extract(epoch FROM max(locked_until) - now()))::bigint"
            " FROM eventlog.login_throttle WHERE key = ANY(%s) AND locked_until > now()",
            ([keys.user, keys.address],))
        row = await cur.fetchone()
    if row is not None and row[0] is not None:
        raise Throttled(max(1, int(row[0])))


async def failed(pool: AsyncConnectionPool[Any], keys: Keys,
                 policy: Policy = DEFAULT_POLICY) -> None:
    """Count one failure for both keys (a window older than ``policy.window`` starts over);
    a key reaching its limit is locked for ``policy.lockout``."""
    async with pool.connection() as conn, conn.transaction():
        for key, limit in keys.limits(policy):
            await conn.execute(
                "INSERT INTO eventlog.login_throttle AS t (key, failures, window_start)"
                " VALUES (%(key)s, 1, now()) ON CONFLICT (key) DO UPDATE SET"
                " failures = CASE WHEN t.window_start < now() - %(window)s THEN 1"
                "   ELSE t.failures + 1 END,"
                " window_start = CASE WHEN t.window_start < now() - %(window)s THEN now()"
                "   ELSE t.window_start END",
                {"key": key, "window": policy.window})
            await conn.execute(
                "UPDATE eventlog.login_throttle SET locked_until = now() + %s,"
                " failures = 0, window_start = now() WHERE key = %s AND failures >= %s",
                (policy.lockout, key, limit))
        # Forget counters nobody has touched for a while (they would start over anyway).
        await conn.execute(
            "DELETE FROM eventlog.login_throttle WHERE window_start < now() - %s"
            " AND (locked_until IS NULL OR locked_until < now())",
            (policy.window + policy.lockout,))


async def succeeded(pool: AsyncConnectionPool[Any], keys: Keys) -> None:
    """A login succeeded: the username's failures are forgotten (the address's are not, so
    one valid account cannot reset the count of guesses at others)."""
    async with pool.connection() as conn:
        await conn.execute(
            "DELETE FROM eventlog.login_throttle WHERE key = %s AND"
            " (locked_until IS NULL OR locked_until < now())", (keys.user,))


def retry_headers(exc: Throttled) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after)}
