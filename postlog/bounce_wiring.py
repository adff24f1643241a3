"""Wires the sender's bounce mailbox scanner to the command side's bounce intake.

The scanner (``services/sender/bounce_mailbox``) must not import the command API; it is given
a ``RecordBounces`` built here. ``mailbox_recorder`` maps each ``MailboxBounce`` to the
intake's ``BounceInput``, checks it at the intake's boundary (``intake.checked``: kind, one-line
texts, a meta an event can hold) and records it with the intake's command
(``handlers.record_bounce``: the subscriber found by uuid or e-mail, ``meta`` sealed with its
key, the ``bounce.actions`` rule applied) through the executor, one command per bounce: what
``intake.record_bounces`` does, plus two things the scanner needs:

- **Idempotency**: the command runs with the bounce's ``key`` as its idempotency key (the
  executor's ``eventlog.idempotency`` row, claimed in the command's own transaction). A bounce
  message read again after a crash between recording and deleting it carries the same key,
  so the executor answers with the first outcome and appends nothing: one bounce per message.
- **Failures are raised**, not only logged, so the scanner keeps the message in the mailbox
  and reads it again at the next scan. A bounce that can never be recorded (refused at the
  boundary) and one for an unknown subscriber (ignored, as listmonk ignores it) count as
  handled: the message is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from kernel.settings import Settings
from services.sender.bounce_mailbox.report import MailboxBounce, RecordBounces

log = structlog.get_logger(__name__)

ACTOR = "system:bounce-mailbox"


def idempotency_key(bounce: MailboxBounce) -> str:
    """The executor's idempotency key of a mailbox bounce (its own namespace: user keys are
    ``<actor>:<key>`` and no user is called ``system:bounce-mailbox``)."""
    return f"{ACTOR}:{bounce.key}"


def mailbox_recorder(pool: AsyncConnectionPool[Any], settings: Settings) -> RecordBounces:
    """The scanner's ``RecordBounces`` over the command side's bounce intake."""
    from events.crypto import master_key_from
    from events.validation import InvalidText
    from readmodels.settings import fetch_settings
    from services.command_api.bounces import intake
    from services.command_api.bounces.handlers import record_bounce
    from services.command_api.bounces.lookups import PostgresBounceLookups
    from services.command_api.executor import CommandContext, execute_handler

    master_key = master_key_from(settings.master_key)

    async def record(bounces: Sequence[MailboxBounce]) -> int:
        stored = await fetch_settings(pool, root_url=settings.root_url,
                                      from_email=settings.from_email)
        actions = stored.settings.bounce_actions
        recorded = 0
        for bounce in bounces:
            given = intake.BounceInput(
                kind=bounce.kind, source=bounce.source, email=bounce.email,
                subscriber_uuid=bounce.subscriber_uuid, campaign_uuid=bounce.campaign_uuid,
                meta=bounce.meta, created_at=bounce.created_at)
            try:
                ready = intake.checked(given, actions)
            except InvalidText as exc:  # can never be recorded: reading it again won't help
                log.warning("bounce_refused", source=bounce.source, key=bounce.key,
                            error=exc.message)
                continue
            key = idempotency_key(bounce)
            outcome = await execute_handler(
                pool, CommandContext(actor=ACTOR, idempotency_key=key, fingerprint=key),
                partial(record_bounce, ready), master_key=master_key,
                ports={"bounces": PostgresBounceLookups})
            if outcome.result.get("recorded") and not outcome.replayed:
                recorded += 1
        return recorded

    return record
