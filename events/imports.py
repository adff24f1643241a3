"""Events of the ``import`` category: the lifecycle of a subscriber import; stream
``import-<uuid>``.

They are the audit trail of who imported what and how it ended; the subscribers an import
creates or changes are recorded as ordinary ``subscriber`` events (same request metadata, with
the import's id as causation id). No personal data here: only the file name and the counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.base import Event
from events.subscribers import SubscriptionStatus

ImportMode = Literal["subscribe", "blocklist"]


class ImportStarted(Event, tag="import.started", kw_only=True, frozen=True):
    """An upload was accepted and its import began (``POST /api/import/subscribers``)."""

    CATEGORY = "import"
    import_id: str
    name: str
    mode: ImportMode
    subscription_status: SubscriptionStatus
    overwrite_userinfo: bool
    overwrite_subscription_status: bool
    list_ids: list[int]
    at: datetime


class ImportFinished(Event, tag="import.finished", kw_only=True, frozen=True):
    """Every row was read; ``imported`` of ``total`` lines were valid and written."""

    CATEGORY = "import"
    import_id: str
    total: int
    imported: int
    at: datetime


class ImportStopped(Event, tag="import.stopped", kw_only=True, frozen=True):
    """A stop was requested (``DELETE``); the rows written until then stay."""

    CATEGORY = "import"
    import_id: str
    total: int
    imported: int
    at: datetime


class ImportFailed(Event, tag="import.failed", kw_only=True, frozen=True):
    """The import ended early: unreadable file, database error, or its process went away."""

    CATEGORY = "import"
    import_id: str
    reason: str
    imported: int
    at: datetime


ImportEvent = ImportStarted | ImportFinished | ImportStopped | ImportFailed
