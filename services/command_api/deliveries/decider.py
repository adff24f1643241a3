"""The retry of a campaign's failed deliveries: a pure decision over the campaign's state.

A retry is a fact about the campaign (``campaign.deliveries_retry_requested`` on its stream,
ordered with its status changes); the sender then sends every delivery that failed before it
again. Its ``round`` is the version the event takes on the stream: unique, and growing.
Retrying is allowed while the campaign runs, is paused (sent when it resumes) or is finished
(listmonk cannot do this at all); a cancelled campaign stays cancelled, and a campaign that
never ran has nothing to retry.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event
from events.deliveries import DeliveriesRetryRequested
from kernel.errors import InvalidInput, NotFound
from services.command_api.campaigns.commands import CAMPAIGN_NOT_FOUND
from services.command_api.campaigns.decider import CampaignState, Live

CANCELLED = "Cannot retry the deliveries of a cancelled campaign."
RETRYABLE = ("running", "paused", "finished")


class RetryDeliveries(msgspec.Struct, frozen=True, kw_only=True):
    """Send again every failed delivery of ``campaign_id``; ``failed`` is how many the read
    model shows (read by the handler)."""

    campaign_id: int
    failed: int = 0
    at: datetime


def decide_retry(state: CampaignState, version: int, command: RetryDeliveries) -> list[Event]:
    """The retry request, or nothing when there is nothing to retry; a ``DomainError`` for a
    campaign that does not exist or was cancelled."""
    if not isinstance(state, Live):
        raise NotFound(CAMPAIGN_NOT_FOUND)
    if state.status == "cancelled":
        raise InvalidInput(CANCELLED)
    if state.status not in RETRYABLE or command.failed < 1:
        return []
    return [DeliveriesRetryRequested(campaign_id=state.campaign_id, round=version + 1,
                                     count=command.failed, at=command.at)]
