"""What the sender is told: the live application settings and the process's own tuning.

The application settings (listmonk's ``app.concurrency``, ``app.message_rate``,
``app.batch_size``, ``app.max_send_errors``, the sliding window, ``privacy.*``...) are
``events.settings.AppSettings``, read through a ``SettingsSource`` each time they matter (a
chunk claimed, a worker started, an error counted), so a change made through the settings API
applies without a restart. The tuning below is about this process and its crash safety, not
about mail: how long a chunk's lease lasts, how often progress is recorded. It comes from
``POSTLOG_*`` process settings (``postlog.serve``) or from a test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from events.settings import AppSettings

SettingsSource = Callable[[], AppSettings]
"""The current application settings (a live view: call it again for fresh values)."""


@dataclass(frozen=True)
class SenderTuning:
    """How one sender process works through chunks; defaults suit production.

    - ``lease_seconds``: a chunk whose holder has not renewed its lease for this long is
      reclaimed by another process (from the chunk's recorded progress). Holders renew at
      every record and at least every third of it.
    - ``poll_seconds``: how often the process looks for campaigns to work on and re-reads the
      status of those it works on (NATS brings changes sooner; this is the fallback).
    - ``flush_every`` / ``flush_seconds``: progress is recorded after this many results or
      this long, whichever comes first: what a ``kill -9`` can make the next holder resend.
    - ``retry_attempts``: attempts of a message that fails for now (the messenger's own quick
      retries aside) before it is recorded as failed; ``retry_backoff_seconds`` is the wait
      before the second attempt, doubled for each one after.
    - ``chunks_in_parallel``: chunks of one campaign this process works on at once (the next
      one is claimed while the previous one's last messages are in flight or retrying).
    - ``chunk_size``: recipients per chunk; ``None`` takes listmonk's ``app.batch_size``.
    - ``feed_batch``: recipients read from the read model per query (keyset pages).
    """

    lease_seconds: float = 10.0
    poll_seconds: float = 1.0
    flush_every: int = 100
    flush_seconds: float = 1.0
    retry_attempts: int = 3
    retry_backoff_seconds: float = 5.0
    chunks_in_parallel: int = 2
    chunk_size: int | None = None
    feed_batch: int = 250

    def chunk_size_for(self, settings: AppSettings) -> int:
        """Recipients per chunk: the tuning's, else ``app.batch_size`` (at least 1)."""
        return max(1, self.chunk_size or settings.app_batch_size)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` >= 1)."""
        return float(self.retry_backoff_seconds * (2 ** max(0, attempt - 1)))
