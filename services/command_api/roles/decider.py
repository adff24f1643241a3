"""The role decider: pure ``decide`` and ``evolve`` over one ``role-<id>`` stream.

Ids and time arrive on the command. The built-in Super Admin role (id 1) has no stream and
is refused before a command reaches here (``handlers.py``).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event
from events.roles import ListGrant, RoleCreated, RoleDeleted, RoleType, RoleUpdated
from kernel.errors import Conflict, NotFound
from services.command_api.decider import Decider

ROLE_NOT_FOUND = "role not found"


class RoleValue(msgspec.Struct, frozen=True, kw_only=True):
    """What a role grants: a user role's permissions or a list role's lists."""

    name: str
    permissions: tuple[str, ...] = ()
    lists: tuple[ListGrant, ...] = ()


class CreateRole(msgspec.Struct, frozen=True, kw_only=True):
    role_id: int
    role_type: RoleType
    value: RoleValue
    at: datetime


class UpdateRole(msgspec.Struct, frozen=True, kw_only=True):
    role_id: int
    role_type: RoleType
    value: RoleValue
    at: datetime


class DeleteRole(msgspec.Struct, frozen=True, kw_only=True):
    role_id: int
    at: datetime


RoleCommand = CreateRole | UpdateRole | DeleteRole


class Absent(msgspec.Struct, frozen=True):
    """No role with this id was ever created."""


class Active(msgspec.Struct, frozen=True, kw_only=True):
    role_id: int
    role_type: RoleType
    value: RoleValue


class Deleted(msgspec.Struct, frozen=True):
    """Deleted; the id is never reused."""


RoleState = Absent | Active | Deleted


def stream_id(role_id: int) -> str:
    return f"role-{role_id}"


def decide(state: RoleState, command: RoleCommand) -> list[Event]:
    if isinstance(command, CreateRole):
        if not isinstance(state, Absent):
            raise Conflict("role already exists")
        v = command.value
        return [RoleCreated(role_id=command.role_id, role_type=command.role_type, name=v.name,
                            permissions=v.permissions, lists=v.lists, at=command.at)]
    if not isinstance(state, Active):
        raise NotFound(ROLE_NOT_FOUND)
    if isinstance(command, UpdateRole):
        # PUT /api/roles/users/:id on a list role (or the reverse) finds no such role.
        if command.role_type != state.role_type:
            raise NotFound(ROLE_NOT_FOUND)
        v = command.value
        return [RoleUpdated(role_id=state.role_id, role_type=state.role_type, name=v.name,
                            permissions=v.permissions, lists=v.lists, at=command.at)]
    return [RoleDeleted(role_id=state.role_id, at=command.at)]


def evolve(state: RoleState, event: Event) -> RoleState:
    if isinstance(event, RoleCreated | RoleUpdated):
        return Active(role_id=event.role_id, role_type=event.role_type, value=RoleValue(
            name=event.name, permissions=event.permissions, lists=event.lists))
    if isinstance(event, RoleDeleted):
        return Deleted()
    return state


role_decider: Decider[RoleState, RoleCommand] = Decider(
    initial=Absent(), decide=decide, evolve=evolve
)
