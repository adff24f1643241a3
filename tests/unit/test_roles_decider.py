"""The role decider and the principal's rights: given events, when a command, then events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.roles import ListGrant, RoleCreated, RoleDeleted, RoleUpdated
from kernel.errors import Conflict, Forbidden, NotFound
from services.auth.principal import Principal
from services.command_api.roles.decider import (
    Absent,
    CreateRole,
    DeleteRole,
    RoleValue,
    UpdateRole,
    decide,
    evolve,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
VALUE = RoleValue(name="editors", permissions=("campaigns:get",))
CREATED = RoleCreated(role_id=2, role_type="user", name="editors",
                      permissions=("campaigns:get",), at=T0)


def test_create_update_delete() -> None:
    assert decide(Absent(), CreateRole(role_id=2, role_type="user", value=VALUE, at=T0)) == [
        CREATED]
    state = evolve(Absent(), CREATED)
    new = RoleValue(name="e", permissions=("templates:get",))
    assert decide(state, UpdateRole(role_id=2, role_type="user", value=new, at=T0)) == [
        RoleUpdated(role_id=2, role_type="user", name="e", permissions=("templates:get",),
                    at=T0)]
    assert decide(state, DeleteRole(role_id=2, at=T0)) == [RoleDeleted(role_id=2, at=T0)]
    with pytest.raises(Conflict):
        decide(state, CreateRole(role_id=2, role_type="user", value=VALUE, at=T0))
    with pytest.raises(NotFound):  # a user role is not updated as a list role
        decide(state, UpdateRole(role_id=2, role_type="list", value=VALUE, at=T0))
    gone = evolve(state, RoleDeleted(role_id=2, at=T0))
    with pytest.raises(NotFound):
        decide(gone, DeleteRole(role_id=2, at=T0))


def test_list_rights_follow_listmonk() -> None:
    user = Principal(user_id=5, username="u", user_type="api", user_role_id=3,
                     permissions=frozenset({"subscribers:get"}),
                     list_grants={1: frozenset({"list:get"}), 2: frozenset({"list:manage"})})
    assert user.permitted_lists("get") == [1] and user.permitted_lists("manage") == [2]
    assert user.subscriber_list_filter([2, 9]) == [1]  # forbidden ids dropped
    assert user.subscriber_list_filter([1, 9]) == [1]
    with pytest.raises(Forbidden):
        user.require_lists("get", [2])
    with pytest.raises(Forbidden):
        user.require_sql_query("subscribers.id > 0")
    everything = Principal(user_id=6, username="v", user_type="api", user_role_id=3,
                           permissions=frozenset({"lists:get_all", "subscribers:get_all"}))
    assert everything.permitted_lists("get") is None
    assert everything.subscriber_list_filter([]) == []
    nothing = Principal(user_id=7, username="w", user_type="api", user_role_id=3)
    assert nothing.subscriber_list_filter([]) == [-1]
    admin = Principal(user_id=1, username="a", user_type="user", user_role_id=1)
    assert admin.has("settings:maintain") and admin.campaign_lists("manage") is None
    assert ListGrant(list_id=1, permissions=("list:get",)).list_id == 1
