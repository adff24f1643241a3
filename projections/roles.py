"""The ``roles`` read model: listmonk's ``roles`` table, user roles with their permissions and
list roles with one ``role_lists`` row per list (dropped with the list, as listmonk's foreign
key cascades). The built-in Super Admin role (id 1) is not stored: readers add it."""

from __future__ import annotations

from psycopg import sql

from events.lists import ListDeleted
from events.roles import RoleCreated, RoleDeleted, RoleUpdated
from events.store import RecordedEvent
from projections.base import Statement, Tables

ROLES = "roles"
ROLE_LISTS = "role_lists"


class RolesProjection:
    name = "roles"
    categories: tuple[str, ...] = ("role", "list")
    tables: tuple[str, ...] = (ROLES, ROLE_LISTS)

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        return [
            sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, type text NOT NULL,"
                    " name text NOT NULL, permissions text[] NOT NULL DEFAULT '{{}}',"
                    " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
                    ).format(t[ROLES]),
            sql.SQL("CREATE TABLE {} (role_id bigint NOT NULL, list_id bigint NOT NULL,"
                    " permissions text[] NOT NULL, PRIMARY KEY (role_id, list_id))"
                    ).format(t[ROLE_LISTS]),
            sql.SQL("CREATE INDEX ON {} (list_id)").format(t[ROLE_LISTS]),
        ]

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        if event.type not in _TYPES:
            return []
        roles, role_lists = t[ROLES], t[ROLE_LISTS]
        e = event.decode()
        if isinstance(e, RoleCreated | RoleUpdated):
            out: list[Statement] = []
            if isinstance(e, RoleCreated):
                out.append((sql.SQL(
                    "INSERT INTO {} (id, type, name, permissions, created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(roles),
                    (e.role_id, e.role_type, e.name, list(e.permissions), e.at, e.at)))
            else:
                out.append((sql.SQL("UPDATE {} SET name = %s, permissions = %s,"
                                    " updated_at = %s WHERE id = %s").format(roles),
                            (e.name, list(e.permissions), e.at, e.role_id)))
            out.append((sql.SQL("DELETE FROM {} WHERE role_id = %s").format(role_lists),
                        (e.role_id,)))
            for grant in e.lists:
                out.append((sql.SQL("INSERT INTO {} (role_id, list_id, permissions)"
                                    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
                                    ).format(role_lists),
                            (e.role_id, grant.list_id, list(grant.permissions))))
            return out
        if isinstance(e, RoleDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE role_id = %s").format(role_lists),
                     (e.role_id,)),
                    (sql.SQL("DELETE FROM {} WHERE id = %s").format(roles), (e.role_id,))]
        if isinstance(e, ListDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE list_id = %s").format(role_lists),
                     (e.list_id,))]
        return []


_TYPES = frozenset({"role.created", "role.updated", "role.deleted", "list.deleted"})
