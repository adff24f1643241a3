"""What the mailbox scanner hands on: one report per bounce message, and who records them.

``MailboxBounce`` has the fields of the command side's bounce intake
(``services/command_api/bounces/intake.py: BounceInput``) plus ``key``; the composition root
maps one to the other (``postlog/bounce_wiring.py: mailbox_recorder``), so the sender never
imports the command API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

BounceKind = Literal["soft", "hard", "complaint"]


@dataclass(frozen=True)
class MailboxBounce:
    """One bounce read from a mailbox.

    ``key`` is stable for the message (``mailbox-bounce:`` and a digest of its Message-ID, or
    of its bytes when it has none): reading the same message again, after a crash between
    recording it and deleting it, gives the same key, so the recorder can tell it was already
    recorded. ``source`` is the mailbox type (``pop`` / ``imap``). ``email`` is set only when
    the message names no subscriber uuid (the recipient the DSN reports).
    """

    kind: BounceKind
    source: str
    key: str
    email: str = ""
    subscriber_uuid: str = ""
    campaign_uuid: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


RecordBounces = Callable[[Sequence[MailboxBounce]], Awaitable[int]]
"""Records the bounces (all of them, in order) and returns how many it recorded; bounces it
ignores on purpose (a subscriber that does not exist, a key already recorded) count as handled.
Raising means nothing of the call may be taken as recorded: the scanner keeps the messages in
the mailbox and reads them again at the next scan."""
