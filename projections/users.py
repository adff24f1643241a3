"""The ``users`` read model: listmonk's ``users`` table (without secrets) for ``GET /api/users``
and ``/api/profile``, with ``twofa_type`` and ``loggedin_at`` from the login events. E-mail
and name are opened here with the users' data keys (``prepare``); a deleted user's row goes
with its key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from events.store import RecordedEvent
from events.user_keys import load_user_keys, unseal
from events.users import (
    UserCreated,
    UserDeleted,
    UserLoggedIn,
    UserTwofaDisabled,
    UserTwofaEnabled,
    UserUpdated,
)
from projections.base import Statement, Tables

USERS = "users"
Keys = dict[int, bytes]


class UsersProjection:
    name = "users"
    categories: tuple[str, ...] = ("user",)
    tables: tuple[str, ...] = (USERS,)

    def __init__(self, master_key: bytes | None = None) -> None:
        self._master_key = master_key

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        return [sql.SQL(
            "CREATE TABLE {} ("
            " id bigint PRIMARY KEY,"
            " username text NOT NULL,"
            " password_login boolean NOT NULL DEFAULT false,"
            " email text NOT NULL DEFAULT '',"
            " name text NOT NULL DEFAULT '',"
            " type text NOT NULL,"
            " status text NOT NULL,"
            " user_role_id bigint NOT NULL,"
            " list_role_id bigint NULL,"
            " twofa_type text NOT NULL DEFAULT 'none',"
            " loggedin_at timestamptz NULL,"
            " created_at timestamptz NOT NULL,"
            " updated_at timestamptz NOT NULL)").format(t[USERS])]

    async def prepare(self, conn: psycopg.AsyncConnection[Any],
                      events: Sequence[RecordedEvent]) -> Keys:
        ids = {int(e.data["user_id"]) for e in events
               if e.type in ("user.created", "user.updated")}
        return await load_user_keys(conn, ids, master_key=self._master_key)

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        raise TypeError("the users projection needs prepare(); use batch_statements")

    def apply_prepared(self, event: RecordedEvent, t: Tables, context: Any) -> list[Statement]:
        keys: Keys = context
        table = t[USERS]
        e = event.decode()
        if isinstance(e, UserCreated | UserUpdated):
            key = keys.get(e.user_id)
            email = unseal(key, e.user_id, "email", e.email)
            name = unseal(key, e.user_id, "name", e.name) or e.username
            values = {"id": e.user_id, "username": e.username, "pl": e.password_login,
                      "email": email, "name": name, "type": e.user_type, "status": e.status,
                      "ur": e.user_role_id, "lr": e.list_role_id, "at": e.at}
            if isinstance(e, UserCreated):
                return [(sql.SQL(
                    "INSERT INTO {} (id, username, password_login, email, name, type, status,"
                    " user_role_id, list_role_id, created_at, updated_at) VALUES (%(id)s,"
                    " %(username)s, %(pl)s, %(email)s, %(name)s, %(type)s, %(status)s, %(ur)s,"
                    " %(lr)s, %(at)s, %(at)s) ON CONFLICT DO NOTHING").format(table), values)]
            return [(sql.SQL(
                "UPDATE {} SET username = %(username)s, password_login = %(pl)s,"
                " email = %(email)s, name = %(name)s, type = %(type)s, status = %(status)s,"
                " user_role_id = %(ur)s, list_role_id = %(lr)s, updated_at = %(at)s"
                " WHERE id = %(id)s").format(table), values)]
        if isinstance(e, UserLoggedIn):
            return [(sql.SQL("UPDATE {} SET loggedin_at = %s WHERE id = %s").format(table),
                     (e.at, e.user_id))]
        if isinstance(e, UserTwofaEnabled | UserTwofaDisabled):
            kind = e.twofa_type if isinstance(e, UserTwofaEnabled) else "none"
            return [(sql.SQL("UPDATE {} SET twofa_type = %s, updated_at = %s WHERE id = %s")
                     .format(table), (kind, e.at, e.user_id))]
        if isinstance(e, UserDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (e.user_id,))]
        return []
