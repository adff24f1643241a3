"""User command handlers against the in-memory store and a credential index in memory: what
the index holds, what the log records (never a secret), and the admin at start-up."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import pytest

from events.users import UserCreated, UserDeleted, UserPasswordChanged
from kernel.errors import Conflict, NotFound
from services.auth.passwords import hash_password, hash_token, verify_secret
from services.command_api.users import handlers
from services.command_api.users.credentials import StoredUser
from services.command_api.users.decider import ChangePassword, user_decider
from tests.fake_store import InMemoryEventStore, run
from tests.unit.given_when_then import when_deciding

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 2, tzinfo=UTC)


class MemoryCredentials:
    """``Credentials`` in a dict by username; ``turns`` counts the admin's serialised turns."""

    def __init__(self) -> None:
        self.rows: dict[str, StoredUser] = {}
        self.turns = 0

    async def add(self, user: StoredUser) -> bool:
        if user.username in self.rows:
            return False
        self.rows[user.username] = user
        return True

    async def find(self, username: str) -> StoredUser | None:
        return self.rows.get(username)

    async def first_admin(self, username: str | None) -> str | None:
        admins = sorted((u for u in self.rows.values() if u.user_type == "user"
                         and username in (None, u.username)), key=lambda u: u.user_id)
        return admins[0].username if admins else None

    async def replace_hash(self, user_id: int, secret_hash: str) -> None:
        [user] = [u for u in self.rows.values() if u.user_id == user_id]
        self.rows[user.username] = replace(user, secret_hash=secret_hash)

    async def remove(self, username: str) -> int | None:
        user = self.rows.pop(username, None)
        return user.user_id if user else None

    async def serialise_admin(self) -> None:
        self.turns += 1


def wanted(password: str | None = None, username: str | None = None) -> handlers.WantedAdmin:
    return handlers.WantedAdmin(username=username, password=password,
                                generated=None if password else "generated-secret", at=T0)


async def test_an_api_user_is_indexed_with_its_hash_and_recorded_without_it() -> None:
    store, credentials = InMemoryEventStore(), MemoryCredentials()
    new = handlers.NewUser("bot-1", "api", hash_token("token"), T0)
    assert await run(store, partial(handlers.create_user, new, credentials=credentials)) == {
        "user_id": 1}
    assert credentials.rows["bot-1"] == StoredUser(1, "bot-1", "api", hash_token("token"))
    assert store.events("user-1") == [UserCreated(user_id=1, username="bot-1",
                                                  user_type="api", at=T0)]


async def test_a_taken_name_is_a_conflict_and_records_nothing() -> None:
    store, credentials = InMemoryEventStore(), MemoryCredentials()
    new = handlers.NewUser("bot-1", "api", hash_token("a"), T0)
    await run(store, partial(handlers.create_user, new, credentials=credentials))
    with pytest.raises(Conflict, match="already exists"):
        await handlers.create_user(replace(new, secret_hash=hash_token("b")), store, credentials)
    assert store.staged == [] and credentials.rows["bot-1"].secret_hash == hash_token("a")


async def test_first_start_creates_the_admin_with_the_generated_password_then_keeps_it() -> None:
    store, credentials = InMemoryEventStore(), MemoryCredentials()
    first = await run(store, partial(handlers.settle_admin, wanted(), credentials=credentials))
    assert first == {"username": "admin", "password": "generated"}
    assert verify_secret(credentials.rows["admin"].secret_hash, "generated-secret")
    again = await run(store, partial(handlers.settle_admin, wanted(), credentials=credentials))
    assert again == {"username": "admin", "password": "kept"}
    assert [type(e) for e in store.events("user-1")] == [UserCreated]
    assert credentials.turns == 2


async def test_a_configured_password_replaces_a_different_one_once() -> None:
    store, credentials = InMemoryEventStore(), MemoryCredentials()
    await run(store, partial(handlers.settle_admin, wanted(), credentials=credentials))
    for _ in range(2):
        result = await run(store, partial(handlers.settle_admin, wanted("from-env-1"),
                                          credentials=credentials))
        assert result == {"username": "admin", "password": "given"}
    assert verify_secret(credentials.rows["admin"].secret_hash, "from-env-1")
    assert [type(e) for e in store.events("user-1")] == [UserCreated, UserPasswordChanged]


async def test_an_api_user_cannot_become_the_admin() -> None:
    store, credentials = InMemoryEventStore(), MemoryCredentials()
    await credentials.add(StoredUser(5, "robot", "api", hash_password("x")))
    with pytest.raises(Conflict, match="API user"):
        await handlers.settle_admin(wanted("pw", username="robot"), store, credentials)
    assert store.staged == []


async def test_deleting_drops_the_credentials_and_records_it_once() -> None:
    store, credentials = InMemoryEventStore(), MemoryCredentials()
    await run(store, partial(handlers.create_user, handlers.NewUser(
        "bot-1", "api", hash_token("t"), T0), credentials=credentials))
    assert await run(store, partial(handlers.remove_user, "bot-1", T1,
                                    credentials=credentials)) == {"user_id": 1}
    assert await run(store, partial(handlers.remove_user, "bot-1", T1,
                                    credentials=credentials)) == {}
    assert credentials.rows == {}
    assert store.events("user-1")[-1] == UserDeleted(user_id=1, username="bot-1", at=T1)


def test_a_deleted_users_password_cannot_change() -> None:
    when = when_deciding(user_decider)
    created = UserCreated(user_id=1, username="bot-1", user_type="api", at=T0)
    assert when([created], ChangePassword(user_id=1, at=T1)) == [
        UserPasswordChanged(user_id=1, at=T1)]
    with pytest.raises(NotFound):
        when([created, UserDeleted(user_id=1, username="bot-1", at=T1)],
             ChangePassword(user_id=1, at=T1))
