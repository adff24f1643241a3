"""Events of the ``role`` category: user roles (sets of permissions) and list roles (rights
per list), as listmonk's ``roles`` table holds them.

Role id 1 is listmonk's primordial Super Admin role: built in (every permission, never changed
or deleted), so it has no stream. Other ids come from ``eventlog.role_id_seq`` (from 2), one id
space for both kinds, as in listmonk (``DELETE /api/roles/:id`` deletes either kind).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from events.base import Event

RoleType = Literal["user", "list"]
ListPermission = Literal["list:get", "list:manage"]

SUPER_ADMIN_ROLE_ID = 1
SUPER_ADMIN_ROLE_NAME = "Super Admin"

# listmonk's permission catalogue (permissions.json), by group.
PERMISSION_GROUPS: dict[str, tuple[str, ...]] = {
    "lists": ("lists:get_all", "lists:manage_all"),
    "subscribers": ("subscribers:get", "subscribers:get_all", "subscribers:manage",
                    "subscribers:import", "subscribers:sql_query", "tx:send"),
    "campaigns": ("campaigns:get", "campaigns:get_all", "campaigns:get_analytics",
                  "campaigns:manage", "campaigns:manage_all", "campaigns:send"),
    "bounces": ("bounces:get", "bounces:manage", "webhooks:post_bounce"),
    "media": ("media:get", "media:manage"),
    "templates": ("templates:get", "templates:manage"),
    "users": ("users:get", "users:manage", "roles:get", "roles:manage"),
    "settings": ("settings:get", "settings:manage", "settings:maintain"),
}
PERMISSIONS: tuple[str, ...] = tuple(p for group in PERMISSION_GROUPS.values() for p in group)
LIST_PERMISSIONS: tuple[ListPermission, ...] = ("list:get", "list:manage")


class ListGrant(msgspec.Struct, frozen=True, kw_only=True):
    """A list role's rights on one list."""

    list_id: int
    permissions: tuple[ListPermission, ...]


class RoleCreated(Event, tag="role.created", kw_only=True, frozen=True):
    """A role was created (``POST /api/roles/users`` or ``/api/roles/lists``). A user role
    carries ``permissions``; a list role carries ``lists``."""

    CATEGORY = "role"
    role_id: int
    role_type: RoleType
    name: str
    permissions: tuple[str, ...] = ()
    lists: tuple[ListGrant, ...] = ()
    at: datetime


class RoleUpdated(Event, tag="role.updated", kw_only=True, frozen=True):
    """A role's whole new value (``PUT /api/roles/users/:id``, ``/api/roles/lists/:id``)."""

    CATEGORY = "role"
    role_id: int
    role_type: RoleType
    name: str
    permissions: tuple[str, ...] = ()
    lists: tuple[ListGrant, ...] = ()
    at: datetime


class RoleDeleted(Event, tag="role.deleted", kw_only=True, frozen=True):
    """A role was deleted (``DELETE /api/roles/:id``); no user held it."""

    CATEGORY = "role"
    role_id: int
    at: datetime


RoleEvent = RoleCreated | RoleUpdated | RoleDeleted
