"""What the caller's list role lets a subscriber command touch (issue 12, listmonk's
``hasSubPerm`` and the ``permittedLists`` of ``UpdateSubscriberWithLists``).

The route builds a ``ListScope`` from the request's principal and passes it into the handler;
the handler checks it against the subscriber state it loaded from the log, inside the command's
transaction, so the check and the write see the same subscriptions and a refused command
appends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kernel.errors import Forbidden
from services.auth.principal import Principal
from services.command_api.subscribers.decider import Active


def subscriber_denied(subscriber_id: int) -> Forbidden:
    return Forbidden(f"Permission denied: subscriber: {subscriber_id}")


@dataclass(frozen=True)
class ListScope:
    """``reach``: a subscriber must be on one of these lists to be acted on; ``manage``: the
    lists whose subscriptions the caller may change. ``None``: no restriction."""

    reach: frozenset[int] | None = None
    manage: frozenset[int] | None = None

    def check(self, subscribers: Iterable[Active]) -> None:
        """403 ``Permission denied: subscriber: <id>`` for the first subscriber on none of the
        reachable lists (listmonk: a subscriber on no list at all is out of reach too)."""
        if self.reach is None:
            return
        for state in subscribers:
            if not self.reach.intersection(state.subscriptions):
                raise subscriber_denied(state.subscriber_id)

    def kept(self, state: Active) -> frozenset[int]:
        """The subscriber's lists a replacing update must leave as they are: those the caller
        may not manage."""
        if self.manage is None:
            return frozenset()
        return frozenset(i for i in state.subscriptions if i not in self.manage)


EVERYTHING = ListScope()


def scope_of(user: Principal) -> ListScope:
    """The scope of ``user``'s subscriber commands."""
    return ListScope(reach=user.subscriber_reach(), manage=user.manageable())
