"""Who is calling, and what their roles let them do: listmonk's ``auth.User`` checks.

A ``Principal`` is built per request from one read of the credential and role indexes
(``users.py: stored_credentials``). Role 1 (Super Admin) passes every check. List rights follow
listmonk's ``internal/auth/models.go``: ``lists:get_all`` / ``lists:manage_all`` reach every
list; otherwise the user's list role names ``list:get`` / ``list:manage`` per list id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from events.roles import SUPER_ADMIN_ROLE_ID
from events.users import UserType
from kernel.errors import Forbidden

ListRight = Literal["get", "manage"]
PERMISSION_DENIED = "permission denied"

_ALL = {"get": "lists:get_all", "manage": "lists:manage_all"}
_ONE = {"get": "list:get", "manage": "list:manage"}


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request and its rights."""

    user_id: int
    username: str
    user_type: UserType
    user_role_id: int
    permissions: frozenset[str] = frozenset()
    list_role_id: int | None = None
    # list id -> {"list:get", "list:manage"} from the user's list role
    list_grants: Mapping[int, frozenset[str]] = field(default_factory=dict)

    @property
    def super_admin(self) -> bool:
        return self.user_role_id == SUPER_ADMIN_ROLE_ID

    def has(self, permission: str) -> bool:
        return self.super_admin or permission in self.permissions

    def has_any(self, permissions: Iterable[str]) -> bool:
        return any(self.has(p) for p in permissions)

    def all_lists(self, right: ListRight) -> bool:
        """Whether ``right`` reaches every list (super admin or the ``*_all`` permission)."""
        return self.has(_ALL[right])

    def granted(self, right: ListRight) -> list[int]:
        """The list ids the list role grants ``right`` on, ascending."""
        return sorted(lid for lid, perms in self.list_grants.items() if _ONE[right] in perms)

    def permitted_lists(self, right: ListRight) -> list[int] | None:
        """None when every list is permitted, else the permitted ids (listmonk's
        ``GetPermittedLists``)."""
        return None if self.all_lists(right) else self.granted(right)

    def may_reach(self, right: ListRight, list_ids: Iterable[int]) -> bool:
        """listmonk's ``HasListPerm``: every given list (ids > 0) is permitted."""
        if self.all_lists(right):
            return True
        allowed = set(self.granted(right))
        return all(lid in allowed for lid in list_ids if lid > 0)

    def require_lists(self, right: ListRight, list_ids: Iterable[int]) -> None:
        """403 ``permission denied`` unless every list is permitted."""
        if not self.may_reach(right, list_ids):
            raise Forbidden(PERMISSION_DENIED)

    def filter_lists(self, right: ListRight, list_ids: Iterable[int]) -> list[int]:
        """The given ids the user may reach (listmonk's ``FilterListsByPerm``)."""
        ids = list(list_ids)
        if self.all_lists(right):
            return ids
        allowed = set(self.granted(right))
        return [lid for lid in ids if lid in allowed]

    def subscriber_lists(self) -> list[int] | None:
        """The lists whose subscribers the user may see (None: all). listmonk's
        ``GetPermittedListIDs``: ``subscribers:get_all`` reaches every subscriber; otherwise
        the lists the list role grants get (or manage) on, ``[-1]`` (nothing) without any."""
        if self.has("subscribers:get_all") or self.all_lists("get") or self.all_lists("manage"):
            return None
        ids = sorted(set(self.granted("get")) | set(self.granted("manage")))
        return ids or [-1]


    def subscriber_list_filter(self, list_ids: Iterable[int]) -> list[int]:
        """The ``list_id`` filter of a subscriber query as listmonk applies it
        (``GetPermittedListIDs``): forbidden ids are dropped; with none left, a user without
        ``subscribers:get_all`` is limited to its permitted lists (``[-1]``: none)."""
        ids = self.filter_lists("get", list_ids)
        if not ids and not self.has("subscribers:get_all"):
            return self.granted("get") or [-1]
        return ids

    def subscriber_reach(self) -> frozenset[int] | None:
        """The lists a subscriber must be on for the user to act on it (None: any subscriber).
        listmonk's ``hasSubPerm``: ``GetPermittedLists(get|manage)``, i.e. every list with
        ``lists:get_all``/``lists:manage_all``, else the lists the role grants get on, or, when
        it grants none, those it grants manage on."""
        if self.all_lists("get") or self.all_lists("manage"):
            return None
        return frozenset(self.granted("get") or self.granted("manage"))

    def visible_lists(self) -> frozenset[int] | None:
        """The lists whose names a subscriber's ``lists`` may show (None: all): listmonk's
        ``maskRestrictedSubLists`` hides lists the role grants neither get nor manage on."""
        if self.all_lists("get") or self.all_lists("manage"):
            return None
        return frozenset(self.granted("get")) | frozenset(self.granted("manage"))

    def manageable(self) -> frozenset[int] | None:
        """The lists the user may manage (None: all, with ``lists:manage_all``)."""
        permitted = self.permitted_lists("manage")
        return None if permitted is None else frozenset(permitted)

    def target_lists(self, list_ids: Iterable[int]) -> tuple[int, ...]:
        """The lists of a subscriber write the user may manage (listmonk's
        ``FilterListsByPerm(manage)``); 403 ``Permission denied: lists`` when lists were given
        and none is manageable."""
        ids = tuple(list_ids)
        kept = tuple(self.filter_lists("manage", ids))
        if ids and not kept:
            raise Forbidden("Permission denied: lists")
        return kept

    def require_sql_query(self, query: str) -> None:
        """``query=`` needs ``subscribers:sql_query``."""
        if query and not self.has("subscribers:sql_query"):
            raise Forbidden("Permission denied: subscribers:sql_query")


    def campaign_lists(self, right: ListRight) -> list[int] | None:
        """The lists whose campaigns the user may reach with ``right`` (None: all):
        ``campaigns:get_all`` / ``campaigns:manage_all``, else listmonk's
        ``GetPermittedLists(get|manage)``."""
        if self.has("campaigns:get_all" if right == "get" else "campaigns:manage_all"):
            return None
        if self.all_lists("get") or self.all_lists("manage"):
            return None
        return self.granted("get") or self.granted("manage")

    def campaign_target_lists(self, list_ids: Iterable[int]) -> tuple[int, ...]:
        """The lists a created or edited campaign keeps (listmonk's
        ``FilterListsByPerm(get|manage)``, which with both flags looks at ``list:get`` only):
        all with ``lists:get_all``/``lists:manage_all``, else those the role grants get on.
        None left is the campaign's usual 400 for missing lists."""
        ids = tuple(list_ids)
        if self.all_lists("get") or self.all_lists("manage"):
            return ids
        allowed = set(self.granted("get"))
        return tuple(i for i in ids if i in allowed)

    def require_campaign(self, right: ListRight, campaign_list_ids: Iterable[int]) -> None:
        """listmonk's ``checkCampaignPerm``: 403 unless the campaign is on a permitted list."""
        permitted = self.campaign_lists(right)
        if permitted is not None and not set(campaign_list_ids) & set(permitted):
            raise Forbidden(f"Permission denied: campaigns:{right}")


def super_admin(username: str) -> Principal:
    """The admin configured in the environment (no database row needed)."""
    return Principal(user_id=0, username=username, user_type="user",
                     user_role_id=SUPER_ADMIN_ROLE_ID)
