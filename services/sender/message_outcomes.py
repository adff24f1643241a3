"""What a single message's stream says, and what to record after an attempt. Pure.

``fold`` reads a ``message-<uuid>`` stream: the event that queued the message (tx, campaign
test, opt-in, notification), the attempts recorded, and whether it is settled (delivered,
failed for good, skipped): a settled message is never sent again, whatever the read model
still shows. ``outcome_of`` turns a messenger's answer into the event to record: delivered;
failed for now with the time of the next attempt (back-off doubling from
``backoff_seconds``) while attempts remain; failed for good otherwise, with the code and the
text sealed with the message's key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from events.base import Event
from events.message_deliveries import (
    MessageDelivered,
    MessageFailed,
    MessageSkipped,
    NotificationQueued,
    OptinQueued,
    seal_error,
)
from events.messages import CampaignTestQueued, TxMessageQueued
from services.sender.messengers.base import DeliveryResult

Queued = TxMessageQueued | CampaignTestQueued | OptinQueued | NotificationQueued
QUEUED_TYPES = (TxMessageQueued, CampaignTestQueued, OptinQueued, NotificationQueued)


@dataclass
class MessageState:
    """A message as its stream tells it: ``version`` is the stream's (the fencing token)."""

    version: int = 0
    queued: Queued | None = None
    attempts: int = 0
    settled: bool = False


def fold(events: Iterable[Event]) -> MessageState:
    """The state of a message from its stream's events, in order."""
    state = MessageState()
    for event in events:
        state.version += 1
        if isinstance(event, QUEUED_TYPES):
            state.queued = event
        elif isinstance(event, MessageDelivered):
            state.attempts = max(state.attempts, event.attempt)
            state.settled = True
        elif isinstance(event, MessageFailed):
            state.attempts = max(state.attempts, event.attempt)
            state.settled = state.settled or event.retry_at is None
        elif isinstance(event, MessageSkipped):
            state.settled = True
    return state


def subscriber_of(queued: Queued) -> int | None:
    """The subscriber whose key seals the message (None: the message's own key)."""
    return None if isinstance(queued, NotificationQueued) else queued.subscriber_id


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts of a message that fails for now (the messenger's own quick retries aside),
    and the wait before the second one (doubled for each one after)."""

    attempts: int = 3
    backoff_seconds: float = 5.0

    def backoff(self, attempt: int) -> float:
        return float(self.backoff_seconds * (2 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class Outcome:
    """The event recording an attempt; ``final``: never sent again; ``retry_at``: when a
    message failed for now may be tried again."""

    event: Event
    final: bool
    retry_at: datetime | None = None


def outcome_of(queued: Queued, attempt: int, messenger: str, result: DeliveryResult, *,
               key: bytes | None, policy: RetryPolicy, now: datetime) -> Outcome:
    """What to record for attempt ``attempt`` (1 is the first) that gave ``result``."""
    subscriber_id = subscriber_of(queued)
    if result.delivered:
        return Outcome(MessageDelivered(
            message_id=queued.message_id, subscriber_id=subscriber_id, messenger=messenger,
            attempt=attempt, code=result.code, at=now), final=True)
    retry_at = None
    if result.temporary and attempt < policy.attempts:
        retry_at = now + timedelta(seconds=policy.backoff(attempt))
    error = seal_error(key, queued.message_id, subscriber_id, result.detail)
    return Outcome(MessageFailed(
        message_id=queued.message_id, subscriber_id=subscriber_id, messenger=messenger,
        attempt=attempt, code=result.code, error=error, retry_at=retry_at, at=now),
        final=retry_at is None, retry_at=retry_at)


def expired(queued_at: datetime, now: datetime, max_age_seconds: float) -> bool:
    """Whether a message never tried waited too long to be worth sending (0: never)."""
    return max_age_seconds > 0 and (now - queued_at).total_seconds() > max_age_seconds
