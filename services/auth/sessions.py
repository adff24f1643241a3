"""Login sessions of people, kept server-side in PostgreSQL (``eventlog.sessions``).

A session is a random 64-character token in the ``session`` cookie (HttpOnly, SameSite=Lax,
Secure under an https root URL); the table keeps only its sha256, so a copy of the database
holds no usable session. Each row has an expiry (7 days, listmonk's cookie age). A row of kind
``twofa`` is the pending second step of a TOTP login (5 minutes, the token travels in the
2FA page's URL and form, never as a session).

Revocation is immediate in every process because every request reads the row: logout deletes
it; deleting a user cascades; disabling a user, switching off its password login or changing
its password deletes its rows (a trigger of migration 019), and the request guard's query also
requires an enabled user with password login.

CSRF (docs/logins.md): the session cookie is SameSite=Lax; besides, a cookie-authenticated
request with an unsafe method is refused unless the browser says it is same-origin
(``Sec-Fetch-Site``) or, without that header, its ``Origin`` is this server's; the login form
also carries listmonk's ``nonce`` (a cookie set with the form, compared with the form field).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from litestar.datastructures import Cookie
from psycopg.rows import tuple_row

SESSION_COOKIE = "session"
NONCE_COOKIE = "nonce"
SESSION_TTL = timedelta(days=7)
TWOFA_TTL = timedelta(minutes=5)
TOKEN_LENGTH = 64  # listmonk's session id and 2FA token length
NONCE_LENGTH = 16
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
INVALID_REQUEST = "Invalid auth request"  # listmonk's users.invalidRequest


def new_token(length: int = TOKEN_LENGTH) -> str:
    """A random URL-safe token of ``length`` characters."""
    return secrets.token_urlsafe(length)[:length]


def token_hash(token: str) -> str:
    """What the table stores for a token (sha256 hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


# --- cookies ---------------------------------------------------------------------------------

def _secure(root_url: str) -> bool:
    return root_url.lower().startswith("https://")


def session_cookie(token: str, root_url: str) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax",
                  secure=_secure(root_url), max_age=int(SESSION_TTL.total_seconds()))


def expired_session_cookie(root_url: str) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", path="/", httponly=True, samesite="lax",
                  secure=_secure(root_url), max_age=0,
                  expires=int(datetime(1970, 1, 1, tzinfo=UTC).timestamp()))


def nonce_cookie(nonce: str, root_url: str) -> Cookie:
    return Cookie(key=NONCE_COOKIE, value=nonce, path="/", httponly=True, samesite="lax",
                  secure=_secure(root_url))


def nonce_matches(cookie: str | None, field: str | None) -> bool:
    """listmonk's login CSRF check: the ``nonce`` cookie equals the form's ``nonce``."""
    if not cookie or not field:
        return False
    return hmac.compare_digest(cookie.encode(), field.encode())


# --- same-origin checks (CSRF) ---------------------------------------------------------------

def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


def same_origin(headers: Mapping[str, str], root_url: str) -> bool:
    """Whether a browser request comes from this site's own pages.

    ``Sec-Fetch-Site`` (set by the browser, not by scripts) decides when present: only
    ``same-origin`` (or ``none``, a user's own navigation) passes. Without it, an ``Origin``
    must name this host (the ``Host`` header, or the root URL's host); ``Origin: null``
    (sandboxed or privacy-redirected documents) fails. A request with neither header is not a
    cross-site browser request (browsers send ``Origin`` on every cross-origin POST, PUT,
    PATCH and DELETE) and passes: it comes from a non-browser client holding the cookie.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site.strip().lower() in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip()
    if not origin or origin == "null":
        return False
    allowed = {h for h in (headers.get("host", "").strip().lower(), _netloc(root_url)) if h}
    return _netloc(origin) in allowed


def safe_next(uri: str | None, default: str = "/admin") -> str:
    """listmonk's ``SanitizeURI``: a path on this site only (no scheme, host or ``//``);
    ``/`` and anything else become ``default``."""
    value = (uri or "").strip()
    if (not value.startswith("/") or value.startswith("//") or "\\" in value
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value == "/":
        return default
    return value


# --- rows ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoginCandidate:
    """What a password login needs about a user (``eventlog.api_users``)."""

    user_id: int
    username: str
    user_type: str
    password_hash: str
    enabled: bool
    password_login: bool
    twofa_type: str

    @property
    def may_log_in(self) -> bool:
        """listmonk's ``login-user``: an enabled person with password login (never an API
        user, whose secret is a token)."""
        return self.enabled and self.password_login and self.user_type == "user"


_CANDIDATE = ("SELECT id, username, user_type, password_hash, status, password_login,"
              " twofa_type FROM eventlog.api_users")


def _candidate(row: tuple[Any, ...] | None) -> LoginCandidate | None:
    if row is None:
        return None
    return LoginCandidate(int(row[0]), str(row[1]), str(row[2]), str(row[3]),
                          row[4] == "enabled", bool(row[5]), str(row[6]))


async def login_candidate(conn: psycopg.AsyncConnection[Any], username: str
                          ) -> LoginCandidate | None:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        _CANDIDATE + " WHERE username = %s", (username,))
    return _candidate(await cur.fetchone())


async def candidate_by_id(conn: psycopg.AsyncConnection[Any], user_id: int, *,
                          lock: bool = False) -> LoginCandidate | None:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        _CANDIDATE + " WHERE id = %s" + (" FOR UPDATE" if lock else ""), (user_id,))
    return _candidate(await cur.fetchone())


async def insert(conn: psycopg.AsyncConnection[Any], token: str, user_id: int, kind: str,
                 expires_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO eventlog.sessions (id_hash, user_id, kind, expires_at)"
        " VALUES (%s, %s, %s, %s)", (token_hash(token), user_id, kind, expires_at))


async def pending_user(conn: psycopg.AsyncConnection[Any], token: str) -> int | None:
    """The user of a live pending 2FA step, or None."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT user_id FROM eventlog.sessions WHERE id_hash = %s AND kind = 'twofa'"
        " AND expires_at > now()", (token_hash(token),))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def delete(conn: psycopg.AsyncConnection[Any], id_hash: str) -> bool:
    cur = await conn.execute("DELETE FROM eventlog.sessions WHERE id_hash = %s", (id_hash,))
    return cur.rowcount > 0


async def prune(conn: psycopg.AsyncConnection[Any]) -> None:
    """Forget expired sessions and pending steps (they are refused anyway)."""
    await conn.execute("DELETE FROM eventlog.sessions WHERE expires_at < now()")


async def rehash(conn: psycopg.AsyncConnection[Any], user_id: int, new_hash: str) -> None:
    """Store a stronger hash of the same password: the user's sessions are kept (the trigger
    revoking them on a password change is told so for this transaction only)."""
    await conn.execute("SELECT set_config('postlog.rehash', 'on', true)")
    await conn.execute("UPDATE eventlog.api_users SET password_hash = %s WHERE id = %s",
                       (new_hash, user_id))
    await conn.execute("SELECT set_config('postlog.rehash', '', true)")
