"""Commands of logins and two-factor authentication, over the store and the ``logins`` port
(sessions, the credential index's login and 2FA columns, users' data keys), each in the
command's one transaction (``executor.py``).

Passwords are verified by the routes (argon2 is slow: off the event loop, before the
transaction); a handler gets the hash that was verified and refuses if the stored one changed
meanwhile. TOTP codes are checked here, on the locked row, so a code is used once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg

from events.user_keys import user_key
from kernel.errors import Forbidden, InvalidInput
from services.auth import sessions, totp
from services.auth.sessions import SESSION_TTL, LoginCandidate, token_hash
from services.auth.totp import TwofaState
from services.command_api.auth.decider import (
    ALREADY_ENABLED,
    NOT_ENABLED,
    DisableTwofa,
    EnableTwofa,
    RecordLogin,
    login_decider,
)
from services.command_api.store import EventStore, Ports, decide_on

INVALID_LOGIN = "Invalid login or password"  # listmonk's users.invalidLogin
INVALID_PASSWORD = "Invalid password"  # users.invalidPassword
INVALID_VALUE = "Invalid value"  # globals.messages.invalidValue
INVALID_TOTP = "Invalid TOTP code."
INVALID_FEATURE = "That feature is not available."  # public.invalidFeature


def stream_id(user_id: int) -> str:
    return f"user-{user_id}"


class WrongCode(Forbidden):
    """A TOTP code that does not match (or was used already): counts as a failed login."""


class Logins(Protocol):
    async def candidate(self, user_id: int) -> LoginCandidate | None: ...
    async def twofa(self, user_id: int) -> TwofaState | None: ...
    async def user_key(self, user_id: int) -> bytes: ...
    async def start_session(self, token: str, user_id: int, expires_at: datetime) -> None: ...
    async def end_pending(self, token: str, user_id: int) -> bool: ...
    async def rehash(self, user_id: int, new_hash: str) -> None: ...
    async def set_twofa(self, user_id: int, twofa_type: str, sealed_key: str | None,
                        last_step: int | None) -> None: ...
    async def prune(self) -> None: ...


class PostgresLogins:
    """``Logins`` on the command's transaction; rows read here are locked until commit."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], master_key: bytes | None) -> None:
        self.conn = conn
        self.master_key = master_key

    async def candidate(self, user_id: int) -> LoginCandidate | None:
        return await sessions.candidate_by_id(self.conn, user_id, lock=True)

    async def twofa(self, user_id: int) -> TwofaState | None:
        return await totp.twofa_state(self.conn, user_id, lock=True)

    async def user_key(self, user_id: int) -> bytes:
        return await user_key(self.conn, user_id, master_key=self.master_key)

    async def start_session(self, token: str, user_id: int, expires_at: datetime) -> None:
        await sessions.insert(self.conn, token, user_id, "session", expires_at)

    async def end_pending(self, token: str, user_id: int) -> bool:
        cur = await self.conn.execute(
            "DELETE FROM eventlog.sessions WHERE id_hash = %s AND user_id = %s"
            " AND kind = 'twofa' AND expires_at > now()", (token_hash(token), user_id))
        return cur.rowcount == 1

    async def rehash(self, user_id: int, new_hash: str) -> None:
        await sessions.rehash(self.conn, user_id, new_hash)

    async def set_twofa(self, user_id: int, twofa_type: str, sealed_key: str | None,
                        last_step: int | None) -> None:
        await self.conn.execute(
            "UPDATE eventlog.api_users SET twofa_type = %s, twofa_key = %s,"
            " twofa_last_step = %s, updated_at = now() WHERE id = %s",
            (twofa_type, sealed_key, last_step, user_id))

    async def prune(self) -> None:
        await sessions.prune(self.conn)


LOGINS: Ports = {"logins": lambda conn, master_key: PostgresLogins(conn, master_key)}


@dataclass(frozen=True)
class LogIn:
    """Open a session ``token`` for ``user_id``. A password login names the hash its password
    was verified against (and the argon2 hash to store instead, if the old one is weaker); the
    TOTP step names the pending token it completes and the code."""

    user_id: int
    token: str
    at: datetime
    verified_hash: str | None = None
    new_hash: str | None = None
    pending: str | None = None
    code: str | None = None


async def log_in(cmd: LogIn, store: EventStore, logins: Logins) -> dict[str, Any]:
    """``{"user_id": id}`` with the session stored and ``user.logged_in`` staged; 403 when
    the user may not log in (any more), its password changed since it was checked, or the
    TOTP code is wrong (``WrongCode``)."""
    user = await logins.candidate(cmd.user_id)
    if user is None or not user.may_log_in:
        raise Forbidden(INVALID_LOGIN)
    if cmd.pending is not None:
        if not await logins.end_pending(cmd.pending, cmd.user_id):
            raise Forbidden(sessions.INVALID_REQUEST)
        await _use_code(cmd.user_id, cmd.code or "", cmd.at, logins)
    else:
        if cmd.verified_hash is None or user.password_hash != cmd.verified_hash:
            raise Forbidden(INVALID_LOGIN)
        if user.twofa_type != "none":  # the route sends such logins to the TOTP step
            raise Forbidden(sessions.INVALID_REQUEST)
        if cmd.new_hash is not None:
            await logins.rehash(cmd.user_id, cmd.new_hash)
    await logins.prune()
    await logins.start_session(cmd.token, cmd.user_id, cmd.at + SESSION_TTL)
    await decide_on(store, stream_id(cmd.user_id), login_decider,
                    RecordLogin(user_id=cmd.user_id, twofa=cmd.pending is not None, at=cmd.at))
    return {"user_id": cmd.user_id}


async def _use_code(user_id: int, code: str, at: datetime, logins: Logins) -> None:
    state = await logins.twofa(user_id)
    if state is None or state.twofa_type != "totp" or not state.sealed_key:
        raise Forbidden(INVALID_FEATURE)
    secret = totp.unseal_secret(await logins.user_key(user_id), user_id, state.sealed_key)
    step = totp.matching_step(secret, code, at, after_step=state.last_step)
    if step is None:
        raise WrongCode(INVALID_VALUE)
    await logins.set_twofa(user_id, "totp", state.sealed_key, step)


@dataclass(frozen=True)
class TwofaChange:
    user_id: int
    at: datetime
    secret: str = ""  # enabling: the secret the caller's authenticator holds
    code: str = ""  # enabling: a code of it, proving it was set up
    verified_hash: str | None = None  # disabling: the hash the password was checked against


async def enable_twofa(cmd: TwofaChange, store: EventStore, logins: Logins
                       ) -> dict[str, Any]:
    """Turn TOTP on with a secret the caller proved to hold (listmonk's ``EnableTOTP``): the
    secret is stored sealed, the code's step counts as used, ``user.twofa_enabled`` staged."""
    user = await logins.candidate(cmd.user_id)
    state = await logins.twofa(cmd.user_id)
    if user is None or state is None or not user.password_login:
        raise InvalidInput(INVALID_FEATURE)
    if state.twofa_type == "totp":
        raise InvalidInput(ALREADY_ENABLED)
    step = totp.matching_step(cmd.secret, cmd.code, cmd.at)
    if step is None:
        raise InvalidInput(INVALID_TOTP)
    key = await logins.user_key(cmd.user_id)
    await logins.set_twofa(cmd.user_id, "totp", totp.seal_secret(key, cmd.user_id, cmd.secret),
                           step)
    await decide_on(store, stream_id(cmd.user_id), login_decider,
                    EnableTwofa(user_id=cmd.user_id, at=cmd.at))
    return {"user_id": cmd.user_id}


async def disable_twofa(cmd: TwofaChange, store: EventStore, logins: Logins
                        ) -> dict[str, Any]:
    """Turn TOTP off after the password was checked (listmonk's ``DisableTOTP``)."""
    user = await logins.candidate(cmd.user_id)
    state = await logins.twofa(cmd.user_id)
    if user is None or state is None or state.twofa_type != "totp":
        raise InvalidInput(NOT_ENABLED)
    if cmd.verified_hash is None or user.password_hash != cmd.verified_hash:
        raise Forbidden(INVALID_PASSWORD)
    await logins.set_twofa(cmd.user_id, "none", None, None)
    await decide_on(store, stream_id(cmd.user_id), login_decider,
                    DisableTwofa(user_id=cmd.user_id, at=cmd.at))
    return {"user_id": cmd.user_id}
