"""Bounce intake: every bounce, whatever brought it (``POST /webhooks/bounce``, a provider's
webhook, the bounce mailbox scanner), is recorded here, each as its own command, so a bad one
never fails the others.

``record_bounces`` is the entry point of the mailbox scanner (the sender service); the webhook
routes use ``record_each``, which also gives the last position written (the answer waits for
the read models to reach it). What enters an event is checked first (``checked``): the kind,
the source (one line), the meta (no NUL, bounded depth and size; what a provider or a bounced
e-mail sent is made safe rather than refused, see ``safe_meta``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import msgspec
import structlog
from psycopg_pool import AsyncConnectionPool

from events.bounces import BOUNCE_TYPES, BounceType
from events.crypto import master_key_from
from events.settings import BounceAction
from events.store import Position
from events.validation import InvalidText, check_json, check_line
from kernel.settings import Settings
from readmodels.settings import fetch_settings
from services.command_api.bounces.handlers import BounceToRecord, record_bounce
from services.command_api.bounces.lookups import PostgresBounceLookups
from services.command_api.executor import CommandContext, execute_handler

log = structlog.get_logger(__name__)

# The most a bounce's meta may take once encoded: its sealed form (base64, about 4/3 of it)
# stays far below the event size limit (events/validation.py: MAX_EVENT_BYTES).
META_MAX_BYTES = 256 * 1024
SOURCE_MAX_BYTES = 2000
EMAIL_MAX_BYTES = 2000


@dataclass(frozen=True)
class BounceInput:
    """A bounce as a webhook or the mailbox scanner reports it (``email`` or
    ``subscriber_uuid`` names the subscriber)."""

    kind: Literal["soft", "hard", "complaint"]
    source: str  # "api", "pop", "imap", "ses", ...
    email: str = ""
    subscriber_uuid: str = ""
    campaign_uuid: str = ""
    meta: Any = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class Recorded:
    """What ``record_each`` did: bounces recorded, commands that ran (recording or not) and
    that failed, the last position written."""

    recorded: int = 0
    ran: int = 0
    failed: int = 0
    position: Position | None = None


def check_meta(meta: Any) -> Any:
    """``meta`` if an event may hold it (no NUL or lone surrogate, nesting and size bounded),
    else ``InvalidText`` (400)."""
    check_json(meta, "meta")
    size = len(msgspec.json.encode(meta))
    if size > META_MAX_BYTES:
        raise InvalidText(f"invalid meta: longer than {META_MAX_BYTES} bytes")
    return meta


def safe_meta(meta: Any) -> Any:
    """``meta`` if an event may hold it, else an object saying why it was dropped: what a
    provider or a bounced e-mail sent cannot be refused back, and the bounce still counts."""
    try:
        return check_meta({} if meta is None else meta)
    except InvalidText as exc:
        return {"postlog": f"meta dropped: {exc.message}"}


def checked(bounce: BounceInput, actions: Mapping[str, BounceAction], *, strict: bool = False,
            now: datetime | None = None) -> BounceToRecord:
    """The bounce as a command takes it; ``InvalidText`` if it cannot be recorded. ``strict``:
    an unsafe meta is refused (the native API tells its caller) instead of dropped."""
    if bounce.kind not in BOUNCE_TYPES:
        raise InvalidText("Invalid fields: type")
    action = actions.get(bounce.kind)
    if action is None:
        raise InvalidText(f"Invalid data: no bounce.actions rule for {bounce.kind}")
    kind: BounceType = bounce.kind
    email = check_line(bounce.email.strip().lower(), "email", EMAIL_MAX_BYTES)
    subscriber_uuid = check_line(bounce.subscriber_uuid.strip(), "subscriber_uuid", 100)
    if not email and not subscriber_uuid:
        raise InvalidText("Invalid fields: email / subscriber_uuid")
    at = bounce.created_at or now or datetime.now(UTC)
    return BounceToRecord(
        kind=kind, source=check_line(bounce.source, "source", SOURCE_MAX_BYTES),
        at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
        count=action.count, action=action.action, email=email,
        subscriber_uuid=subscriber_uuid,
        campaign_uuid=check_line(bounce.campaign_uuid.strip(), "campaign_uuid", 100),
        meta=check_meta(bounce.meta) if strict else safe_meta(bounce.meta))


async def record_each(pool: AsyncConnectionPool[Any], ctx: CommandContext,
                      bounces: Sequence[BounceToRecord], *, master_key: bytes | None
                      ) -> Recorded:
    """Record each bounce as its own command (one transaction each); a failure is logged and
    the others go on."""
    ctx = dataclasses.replace(ctx, idempotency_key="", fingerprint="")
    recorded = ran = failed = 0
    position: Position | None = None
    for bounce in bounces:
        try:
            outcome = await execute_handler(
                pool, ctx, partial(record_bounce, bounce), master_key=master_key,
                ports={"bounces": PostgresBounceLookups})
        except Exception as exc:
            failed += 1
            log.warning("bounce_not_recorded", source=bounce.source, kind=bounce.kind,
                        error=repr(exc))
            continue
        ran += 1
        position = outcome.position or position
        recorded += 1 if outcome.result.get("recorded") else 0
    return Recorded(recorded=recorded, ran=ran, failed=failed, position=position)


async def record_bounces(pool: AsyncConnectionPool[Any], settings: Settings,
                         bounces: Sequence[BounceInput], *, actor: str = "",
                         actions: Mapping[str, BounceAction] | None = None) -> int:
    """Record each bounce as its own command (unknown subscriber: skipped and logged); how
    many were recorded. The rules are ``actions`` (the live ``bounce.actions``) or, when not
    given, the stored settings' ``bounce.actions`` read now. A bounce that cannot be recorded
    (an unknown kind, a source that is not one line) is logged and skipped."""
    if actions is None:
        stored = await fetch_settings(pool, root_url=settings.root_url,
                                      from_email=settings.from_email)
        actions = stored.settings.bounce_actions
    ready: list[BounceToRecord] = []
    for bounce in bounces:
        try:
            ready.append(checked(bounce, actions))
        except InvalidText as exc:
            log.warning("bounce_refused", source=bounce.source[:100], error=exc.message)
    done = await record_each(pool, CommandContext(actor=actor), ready,
                             master_key=master_key_from(settings.master_key))
    return done.recorded
