"""List-role checks of campaign writes (issue 12, listmonk's ``checkCampaignPerm`` and the
list filter of ``CreateCampaign``/``UpdateCampaign``).

Checked in the route, before the command, against the campaign's lists as the ``campaigns``
read model has them (what ``GET /api/campaigns/:id`` checks too). A refused request runs no
command, so appends nothing. A campaign absent from the read model has no permitted list: a
restricted user is refused (403) as listmonk refuses it, an unrestricted one gets the handler's
404.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Request

from readmodels.campaign_access import campaigns_lists
from services.auth.guard import current_user
from services.auth.principal import ListRight
from services.runtime import Runtime


async def require_campaign(request: Request[Any, Any, Any], runtime: Runtime,
                           right: ListRight, campaign_id: int) -> None:
    """403 ``Permission denied: campaigns:<right>`` unless the caller may reach the campaign:
    ``campaigns:<right>_all``, ``lists:*_all``, or the campaign is on one of its lists."""
    user = current_user(request)
    if user.campaign_lists(right) is None:
        return
    found = await campaigns_lists(runtime.read_pool, [campaign_id])
    user.require_campaign(right, found.get(campaign_id, frozenset()))


async def manageable_campaigns(request: Request[Any, Any, Any], runtime: Runtime,
                               campaign_ids: Sequence[int]) -> list[int]:
    """The campaigns among ``campaign_ids`` the caller may manage (listmonk's bulk delete
    skips the others silently)."""
    user = current_user(request)
    permitted = user.campaign_lists("manage")
    if permitted is None:
        return list(campaign_ids)
    found = await campaigns_lists(runtime.read_pool, campaign_ids)
    allowed = set(permitted)
    return [i for i in campaign_ids if found.get(i, frozenset()) & allowed]
