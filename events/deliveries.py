"""Events of campaign delivery: the sender's progress, chunk by chunk, and the retry request.

A running campaign's recipients are cut into **chunks**: chunk ``n`` holds the recipients whose
subscriber id is in ``(after_id, last_id]``. Each chunk has its own stream,
``delivery-<campaign_id>-<n>`` (category ``delivery``), written only by the sender process
that holds the chunk's lease (``services/sender/leases.py``):

- ``delivery.chunk_claimed``: a process took the chunk (first, or after the holder died or the
  campaign was paused, or for a retry ``round``). Appending it moves the stream's version, so a
  previous holder's late write (expected at the old version) fails: the version is the fencing
  token;
- ``delivery.progress``: what happened since the last record, written every ~100 messages or
  every second: subscribers delivered, failed for good (SMTP code and text), and failed for now
  (retried with back-off). A crash loses at most what was not yet recorded, and the next
  holder resends only that;
- ``delivery.chunk_completed``: every recipient of the chunk was delivered or failed for good.

Failure texts may quote the recipient's address, so ``FailedDelivery.error`` is sealed with the
subscriber's data key (aad ``subscriber:<id>:delivery_error``, see ``error_aad``): erasing the
subscriber erases it, like the rest of their personal data.

``campaign.deliveries_retry_requested`` (``POST /api/campaigns/:id/deliveries/retry``) is a
fact about the campaign and lives on its stream, ordered with its status changes: every
delivery failed before it is sent again (retry ``round``).
"""

from __future__ import annotations

import re
from datetime import datetime

import msgspec

from events.base import Event
from events.crypto import decrypt_value, encrypt_value, field_aad

CATEGORY = "delivery"
ERROR_FIELD = "delivery_error"
# Longest failure text kept (an SMTP reply is at most a few hundred characters).
MAX_ERROR_CHARS = 1000


def chunk_stream(campaign_id: int, chunk: int) -> str:
    """The stream of one chunk of a campaign's recipients."""
    return f"{CATEGORY}-{campaign_id}-{chunk}"


def error_aad(subscriber_id: int) -> bytes:
    """The aad binding a sealed failure text to its subscriber."""
    return field_aad(subscriber_id, ERROR_FIELD)


# A server's reply is text from outside: line breaks become spaces, other control characters
# and lone surrogates go, so the opened text can be stored and shown anywhere.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def clean_error(text: str) -> str:
    """``text`` on one line, without control characters, at most ``MAX_ERROR_CHARS``."""
    return " ".join(_UNSAFE.sub(" ", text).split())[:MAX_ERROR_CHARS]


def seal_error(key: bytes | None, subscriber_id: int, text: str) -> str:
    """``text`` (cleaned) sealed with the subscriber's key; empty when there is no text or no
    key (an erased subscriber's failure keeps its code only)."""
    cleaned = clean_error(text)
    if not cleaned or key is None:
        return ""
    return encrypt_value(key, cleaned, error_aad(subscriber_id))


def open_error(key: bytes | None, subscriber_id: int, token: str) -> str:
    """The failure text; ``"[erased]"`` once the subscriber's key is gone."""
    if not token:
        return ""
    value = decrypt_value(key, token, error_aad(subscriber_id))
    return value if isinstance(value, str) else ""


class FailedDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A recipient the messenger refused for good (or for now too many times).

    ``attempts`` counts the attempts of this record (the ones before it were recorded as
    ``RetryingDelivery``); ``error`` is sealed (``seal_error``).
    """

    subscriber_id: int
    code: int = 0
    error: str = ""
    attempts: int = 1


class RetryingDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A recipient whose delivery failed for now (SMTP 4xx, timeout, dropped connection): it
    is tried again after a back-off, by this holder or by the next one."""

    subscriber_id: int
    code: int = 0
    attempts: int = 1


class ChunkClaimed(Event, tag="delivery.chunk_claimed", kw_only=True, frozen=True):
    """``holder`` (a sender process) took chunk ``chunk``: recipients with ids in
    ``(after_id, last_id]``. ``round`` above the previous claim's sends the chunk's failed
    deliveries again (a retry was asked for)."""

    CATEGORY = CATEGORY
    campaign_id: int
    chunk: int
    after_id: int
    last_id: int
    round: int = 0
    holder: str
    at: datetime


class DeliveryProgress(Event, tag="delivery.progress", kw_only=True, frozen=True):
    """What the holder of a chunk settled since its last record."""

    CATEGORY = CATEGORY
    campaign_id: int
    chunk: int
    messenger: str
    delivered: list[int] = []
    failed: list[FailedDelivery] = []
    retrying: list[RetryingDelivery] = []
    at: datetime


class ChunkCompleted(Event, tag="delivery.chunk_completed", kw_only=True, frozen=True):
    """Every recipient of the chunk was delivered or failed for good (this round)."""

    CATEGORY = CATEGORY
    campaign_id: int
    chunk: int
    at: datetime


class DeliveriesRetryRequested(Event, tag="campaign.deliveries_retry_requested", kw_only=True,
                               frozen=True):
    """Every delivery of the campaign that failed before this event is to be sent again.
    ``round`` is unique per campaign and grows (the campaign stream's version of this event);
    ``count`` is how many failed deliveries the read model showed when it was asked for."""

    CATEGORY = "campaign"
    campaign_id: int
    round: int
    count: int
    at: datetime


DeliveryEvent = ChunkClaimed | DeliveryProgress | ChunkCompleted
