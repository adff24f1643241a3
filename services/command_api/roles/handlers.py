"""Commands of the roles API: create, update and delete user roles and list roles.

The role index (``eventlog.api_roles``, read by the request guard) is changed in the same
transaction as the ``role.*`` event, so a role's new rights hold on every process at commit.
Role 1 (Super Admin) is built in: never changed or deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from events.roles import SUPER_ADMIN_ROLE_ID, RoleType
from kernel.errors import Conflict, InvalidInput, NotFound
from services.command_api.roles.decider import (
    ROLE_NOT_FOUND,
    Active,
    CreateRole,
    DeleteRole,
    RoleValue,
    UpdateRole,
    role_decider,
    stream_id,
)
from services.command_api.store import EventStore, decide_on
from services.command_api.users.accounts import Accounts

ROLE_ID_SEQUENCE = "eventlog.role_id_seq"
INVALID_ID = "Invalid ID(s)"
ROLE_IN_USE = "Cannot delete role that is in use."


def _refuse_super_admin(role_id: int) -> None:
    if role_id == SUPER_ADMIN_ROLE_ID:
        raise InvalidInput(INVALID_ID)


async def create_role(role_type: RoleType, value: RoleValue, at: datetime, store: EventStore,
                      accounts: Accounts) -> dict[str, Any]:
    role_id = await store.next_id(ROLE_ID_SEQUENCE)
    if not await accounts.put_role(role_id, role_type, value.name, value.permissions,
                                   value.lists):
        raise Conflict(f"role '{value.name}' already exists")
    await decide_on(store, stream_id(role_id), role_decider,
                    CreateRole(role_id=role_id, role_type=role_type, value=value, at=at))
    return {"role_id": role_id}


async def update_role(role_id: int, role_type: RoleType, value: RoleValue, at: datetime,
                      store: EventStore, accounts: Accounts) -> dict[str, Any]:
    _refuse_super_admin(role_id)
    state, _ = await store.load(stream_id(role_id), role_decider)
    if not isinstance(state, Active) or state.role_type != role_type:
        raise NotFound(ROLE_NOT_FOUND)
    if not await accounts.put_role(role_id, role_type, value.name, value.permissions,
                                   value.lists):
        raise Conflict(f"role '{value.name}' already exists")
    await decide_on(store, stream_id(role_id), role_decider,
                    UpdateRole(role_id=role_id, role_type=role_type, value=value, at=at))
    return {"role_id": role_id}


async def delete_role(role_id: int, at: datetime, store: EventStore, accounts: Accounts
                      ) -> dict[str, Any]:
    """Delete a user or list role; 400 while a user holds it."""
    _refuse_super_admin(role_id)
    state, _ = await store.load(stream_id(role_id), role_decider)
    if not isinstance(state, Active):
        raise NotFound(ROLE_NOT_FOUND)
    if await accounts.role_in_use(role_id):
        raise InvalidInput(ROLE_IN_USE)
    await accounts.delete_role(role_id)
    await decide_on(store, stream_id(role_id), role_decider,
                    DeleteRole(role_id=role_id, at=at))
    return {"role_id": role_id}
