"""Sessions, CSRF checks and the login handlers (no I/O: fakes of the store and the port)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from events.store import StreamAppend
from events.users import UserCreated, UserLoggedIn, UserTwofaDisabled, UserTwofaEnabled
from kernel.errors import Forbidden, InvalidInput, NotFound
from services.auth.sessions import (
    LoginCandidate,
    nonce_matches,
    safe_next,
    same_origin,
    token_hash,
)
from services.auth.throttle import client_address, keys_for
from services.auth.totp import TwofaState, code_at, matching_step, seal_secret
from services.command_api.auth import handlers
from services.command_api.auth.decider import (
    DisableTwofa,
    EnableTwofa,
    RecordLogin,
    login_decider,
)
from tests.fake_store import InMemoryEventStore, run
from tests.unit.given_when_then import when_deciding

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ROOT = "https://lists.example.com"
when = when_deciding(login_decider)
CREATED = UserCreated(user_id=7, username="ann", user_type="user", at=AT)


def test_only_same_origin_browser_requests_pass() -> None:
    host = {"host": "lists.example.com"}
    assert same_origin({**host, "sec-fetch-site": "same-origin"}, ROOT)
    assert same_origin({**host, "sec-fetch-site": "none"}, ROOT)
    assert not same_origin({**host, "sec-fetch-site": "cross-site"}, ROOT)
    assert not same_origin({**host, "sec-fetch-site": "same-site"}, ROOT)
    # Sec-Fetch-Site decides over Origin.
    assert not same_origin({**host, "sec-fetch-site": "cross-site",
                            "origin": "https://lists.example.com"}, ROOT)
    assert same_origin({**host, "origin": "https://lists.example.com"}, ROOT)
    assert same_origin({"host": "10.0.0.5:9000", "origin": "http://10.0.0.5:9000"}, ROOT)
    assert not same_origin({**host, "origin": "https://evil.example"}, ROOT)
    assert not same_origin({**host, "origin": "null"}, ROOT)
    assert not same_origin({**host, "origin": "https://lists.example.com.evil.example"}, ROOT)
    assert same_origin(host, ROOT)  # no browser headers: not a cross-site browser request


def test_next_stays_on_this_site() -> None:
    assert safe_next("/admin/campaigns?x=1") == "/admin/campaigns?x=1"
    for bad in ("", "/", "https://evil.example/", "//evil.example/x", "/\\evil.example",
                "javascript:alert(1)", "/admin\r\nSet-Cookie: x=1", None):
        assert safe_next(bad) == "/admin"


def test_nonces_and_token_hashes() -> None:
    assert nonce_matches("abc", "abc")
    assert not nonce_matches("abc", "abd")
    assert not nonce_matches(None, "abc") and not nonce_matches("", "")
    assert token_hash("t") == token_hash("t") != token_hash("u")
    assert len(token_hash("t")) == 64


def test_throttle_keys_hide_what_was_typed_and_trust_only_a_local_gateway() -> None:
    keys = keys_for("Ann@Example.com", "203.0.113.9")
    assert keys == keys_for("ann@example.com ", "203.0.113.9")
    assert "ann" not in keys.user and "203.0.113.9" not in keys.address
    real = {"x-real-ip": "198.51.100.4"}
    assert client_address({"client": ("127.0.0.1", 1)}, real) == "198.51.100.4"
    assert client_address({"client": ("10.1.2.3", 1)}, real) == "198.51.100.4"
    assert client_address({"client": ("93.184.216.34", 1)}, real) == "93.184.216.34"
    assert client_address({"client": ("127.0.0.1", 1)}, {"x-real-ip": "junk"}) == "127.0.0.1"


def test_login_decider() -> None:
    assert when([CREATED], RecordLogin(user_id=7, twofa=False, at=AT)) == [
        UserLoggedIn(user_id=7, twofa=False, at=AT)]
    assert when([CREATED], EnableTwofa(user_id=7, at=AT)) == [
        UserTwofaEnabled(user_id=7, at=AT)]
    with pytest.raises(InvalidInput):
        when([CREATED, UserTwofaEnabled(user_id=7, at=AT)], EnableTwofa(user_id=7, at=AT))
    with pytest.raises(InvalidInput):
        when([CREATED], DisableTwofa(user_id=7, at=AT))
    assert when([CREATED, UserTwofaEnabled(user_id=7, at=AT)],
                DisableTwofa(user_id=7, at=AT)) == [UserTwofaDisabled(user_id=7, at=AT)]
    with pytest.raises(NotFound):
        when([], RecordLogin(user_id=7, twofa=False, at=AT))


KEY = bytes(32)


@dataclass
class FakeLogins:
    user: LoginCandidate | None
    state: TwofaState = field(default_factory=lambda: TwofaState("none", None, None))
    sessions: dict[str, int] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    hashes: list[str] = field(default_factory=list)

    async def candidate(self, user_id: int) -> LoginCandidate | None:
        return self.user

    async def twofa(self, user_id: int) -> TwofaState | None:
        return self.state

    async def user_key(self, user_id: int) -> bytes:
        return KEY

    async def start_session(self, token: str, user_id: int, expires_at: datetime) -> None:
        assert expires_at == AT + timedelta(days=7)
        self.sessions[token] = user_id

    async def end_pending(self, token: str, user_id: int) -> bool:
        if token not in self.pending:
            return False
        self.pending.discard(token)
        return True

    async def rehash(self, user_id: int, new_hash: str) -> None:
        self.hashes.append(new_hash)

    async def set_twofa(self, user_id: int, twofa_type: str, sealed_key: str | None,
                        last_step: int | None) -> None:
        self.state = TwofaState(twofa_type, sealed_key, last_step)

    async def prune(self) -> None:
        return None


def _person(**changes: object) -> LoginCandidate:
    values: dict[str, object] = {"user_id": 7, "username": "ann", "user_type": "user",
                                 "password_hash": "h1", "enabled": True,
                                 "password_login": True, "twofa_type": "none"}
    values.update(changes)
    return LoginCandidate(**values)  # type: ignore[arg-type]


async def _store() -> InMemoryEventStore:
    store = InMemoryEventStore()
    store.append(StreamAppend("user-7", 0, [CREATED]))
    store.commit()
    return store


async def test_a_login_stores_a_session_and_records_it() -> None:
    store, logins = await _store(), FakeLogins(_person(password_hash="scrypt$old"))
    cmd = handlers.LogIn(user_id=7, token="tok", at=AT, verified_hash="scrypt$old",
                         new_hash="$argon2id$new")
    assert await run(store, lambda s: handlers.log_in(cmd, s, logins)) == {"user_id": 7}
    assert logins.sessions == {"tok": 7} and logins.hashes == ["$argon2id$new"]
    assert store.events("user-7")[-1] == UserLoggedIn(user_id=7, twofa=False, at=AT)


@pytest.mark.parametrize("user", [None, _person(enabled=False), _person(password_login=False),
                                  _person(user_type="api"), _person(password_hash="h2")])
async def test_a_login_is_refused_when_the_user_changed_since_the_password_check(
        user: LoginCandidate | None) -> None:
    store, logins = await _store(), FakeLogins(user)
    cmd = handlers.LogIn(user_id=7, token="tok", at=AT, verified_hash="h1")
    with pytest.raises(Forbidden):
        await run(store, lambda s: handlers.log_in(cmd, s, logins))
    assert logins.sessions == {} and store.events("user-7") == [CREATED]


async def test_the_totp_step_checks_the_code_once() -> None:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    store = await _store()
    logins = FakeLogins(_person(twofa_type="totp"),
                        TwofaState("totp", seal_secret(KEY, 7, secret), None), pending={"p1"})
    code = code_at(secret, AT)
    wrong = handlers.LogIn(user_id=7, token="t0", at=AT, pending="p1",
                           code=f"{(int(code) + 1) % 1_000_000:06d}")
    with pytest.raises(handlers.WrongCode):
        await handlers.log_in(wrong, store, logins)
    store.staged.clear()
    logins.pending = {"p1", "p2"}
    ok = handlers.LogIn(user_id=7, token="t1", at=AT, pending="p1", code=code)
    await run(store, lambda s: handlers.log_in(ok, s, logins))
    assert logins.sessions == {"t1": 7}
    assert logins.state.last_step == matching_step(secret, code, AT)
    replay = handlers.LogIn(user_id=7, token="t2", at=AT, pending="p2", code=code)
    with pytest.raises(handlers.WrongCode):
        await handlers.log_in(replay, store, logins)
    used = handlers.LogIn(user_id=7, token="t3", at=AT, pending="p1", code=code)
    with pytest.raises(Forbidden):  # the pending token was used up
        await handlers.log_in(used, store, logins)


async def test_enabling_needs_a_valid_code_and_seals_the_secret() -> None:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    store, logins = await _store(), FakeLogins(_person())
    bad = handlers.TwofaChange(user_id=7, at=AT, secret=secret, code="000000"
                               if code_at(secret, AT) != "000000" else "111111")
    with pytest.raises(InvalidInput):
        await handlers.enable_twofa(bad, store, logins)
    good = handlers.TwofaChange(user_id=7, at=AT, secret=secret, code=code_at(secret, AT))
    await run(store, lambda s: handlers.enable_twofa(good, s, logins))
    assert logins.state.twofa_type == "totp"
    assert logins.state.sealed_key and secret not in logins.state.sealed_key
    assert store.events("user-7")[-1] == UserTwofaEnabled(user_id=7, at=AT)
    off = handlers.TwofaChange(user_id=7, at=AT, verified_hash="other")
    with pytest.raises(Forbidden):
        await handlers.disable_twofa(off, store, logins)
