"""The bounce mailbox scanner: reads ``bounce.mailboxes`` every ``scan_interval``, hands the
bounces found to the recorder, and deletes what was recorded.

A background task of the sender (``MailboxScanner.run(stop)``; the composition root gives it
the recorder, ``postlog/bounce_wiring.py``). Every ``tick`` seconds it reads the live settings
(so a change applies without a restart) and scans each mailbox that is due: enabled, with
``bounce.enabled`` on (listmonk runs no bounce processing without it), and not scanned for
``scan_interval`` (a mailbox whose connection settings changed is due at once). A failed scan
(server down, wrong password) is logged and tried again one interval later.

One scan of a mailbox (``scan_mailbox``): connect and log in, list up to ``max_per_scan``
messages (listmonk's 1,000), then one by one: fetch and read it (``parse.read_bounce``), hand
its bounce to the recorder (one call per bounce, so one that fails holds no other back), and
note whether the message may go: its bounce was recorded, or it is no bounce of ours (it names
nobody: listmonk deletes every message it downloaded). A message whose recording failed stays
in the mailbox for the next scan. At the end the noted messages are deleted (POP3 DELE + QUIT,
IMAP ``\\Deleted`` + EXPUNGE).

Crash safety: a message is deleted only after its bounce was recorded; a crash (or a lost
connection) before the deletion leaves it in the mailbox, and the next scan reads it again.
Its report then carries the same ``key`` (a digest of its Message-ID), which the recorder uses
to record it once. This process also remembers the keys it recorded (``remembered``), so a
message whose deletion failed is deleted at the next scan without being handed on again.

Several sender processes: a scan runs under a PostgreSQL advisory lock taken with
``pg_try_advisory_lock`` on a connection of the sender's pool, held for the scan and released
after it. A process that finds it taken skips the scan (another process is scanning) and
waits an interval, as if it had scanned.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from psycopg_pool import AsyncConnectionPool

from events.settings import AppSettings, BounceMailbox
from services.sender.bounce_mailbox.clients import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    MailboxError,
    MailboxSession,
    TlsFactory,
    describe,
    open_session,
    tls_context,
)
from services.sender.bounce_mailbox.parse import ReadBounce, read_bounce
from services.sender.bounce_mailbox.report import MailboxBounce, RecordBounces
from services.sender.messengers.durations import duration_or

log = structlog.get_logger(__name__)

LOCK_KEY = int.from_bytes(hashlib.blake2b(b"postlog-bounce-mailbox-scan", digest_size=8)
                          .digest(), "big", signed=True)
MAX_PER_SCAN = 1000  # listmonk's limit of messages read in one scan
DEFAULT_INTERVAL = 15 * 60.0  # listmonk's default scan_interval
MIN_INTERVAL = 60.0  # listmonk refuses a shorter scan_interval
REMEMBERED = 10_000  # keys of recorded bounces this process remembers

SettingsSource = Callable[[], Awaitable[AppSettings]]
Opener = Callable[[BounceMailbox], MailboxSession]


@dataclass(frozen=True)
class ScanResult:
    """What one scan of one mailbox did."""

    mailbox: str  # type://host:port (never the user name or password)
    read: int = 0  # messages read
    recorded: int = 0  # bounces recorded (as the recorder counts them)
    ignored: int = 0  # messages that are no bounce of ours (deleted as well)
    deleted: int = 0
    kept: int = 0  # messages left for the next scan (recording or reading failed)
    error: str = ""  # why the scan failed ("" when it did not)


def mailbox_name(box: BounceMailbox) -> str:
    return f"{box.type}://{box.host}:{box.port}"


def scan_interval(box: BounceMailbox, minimum: float = MIN_INTERVAL) -> float:
    """Seconds between two scans of ``box`` (listmonk's default for a bad value)."""
    return max(duration_or(box.scan_interval, DEFAULT_INTERVAL), minimum)


def _identity(box: BounceMailbox) -> tuple[Any, ...]:
    """What makes a mailbox the same one: every setting but its interval and switch."""
    fields = msgspec.structs.asdict(box)
    fields.pop("scan_interval")
    fields.pop("enabled")
    return tuple(sorted(fields.items()))


class MailboxScanner:
    """Scans the bounce mailboxes of the live settings until stopped (see the module doc)."""

    def __init__(self, pool: AsyncConnectionPool[Any], settings: SettingsSource,
                 record: RecordBounces, *, tls: TlsFactory = tls_context,
                 timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_per_scan: int = MAX_PER_SCAN, tick: float = 5.0,
                 min_interval: float = MIN_INTERVAL,
                 clock: Callable[[], float] = time.monotonic,
                 lock_key: int = LOCK_KEY) -> None:
        self._pool = pool
        self._settings = settings
        self._record = record
        self._tls = tls
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_per_scan = max_per_scan
        self._tick = tick
        self._min_interval = min_interval
        self._clock = clock
        self._lock_key = lock_key
        self._last: dict[tuple[Any, ...], float] = {}  # mailbox identity -> last scan start
        self._recorded: OrderedDict[str, None] = OrderedDict()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("bounce_mailbox_scanner_started", tick=self._tick)
        while not stop.is_set():
            try:
                await self.scan_due(stop)
            except Exception:
                log.exception("bounce_mailbox_scanner_error")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._tick)
        log.info("bounce_mailbox_scanner_stopped")

    def due(self, settings: AppSettings) -> list[BounceMailbox]:
        """The mailboxes to scan now."""
        if not settings.bounce_enabled:
            return []
        now = self._clock()
        out: list[BounceMailbox] = []
        for box in settings.bounce_mailboxes:
            if not box.enabled:
                continue
            last = self._last.get(_identity(box))
            if last is None or now - last >= scan_interval(box, self._min_interval):
                out.append(box)
        return out

    def scanned(self, box: BounceMailbox, at: float) -> None:
        """Count ``box`` as scanned at ``at`` (the clock's time): due again an interval on."""
        self._last[_identity(box)] = at

    async def scan_due(self, stop: asyncio.Event | None = None) -> list[ScanResult] | None:
        """Scan every mailbox that is due; ``None`` when another process holds the scan lock
        (the mailboxes count as scanned: that process is reading them)."""
        boxes = self.due(await self._settings())
        if not boxes:
            return []
        started = self._clock()
        async with self._scan_lock() as held:
            for box in boxes:
                self.scanned(box, started)
            if not held:
                log.info("bounce_mailbox_scan_skipped", reason="another process is scanning")
                return None
            results: list[ScanResult] = []
            for box in boxes:
                if stop is not None and stop.is_set():
                    break
                results.append(await self.scan_mailbox(box, stop))
            return results

    async def scan_mailbox(self, box: BounceMailbox,
                           stop: asyncio.Event | None = None) -> ScanResult:
        """One scan of one mailbox (the caller holds the scan lock); never raises but for
        cancellation: a failure is logged and described in the result."""
        name = mailbox_name(box)
        log.info("bounce_mailbox_scan_started", mailbox=name)
        try:
            session = await asyncio.to_thread(self._open, box)
        except Exception as exc:
            error = str(exc) if isinstance(exc, MailboxError) else describe(exc)
            log.warning("bounce_mailbox_scan_failed", mailbox=name, error=error)
            return ScanResult(mailbox=name, error=error)
        read = recorded = ignored = 0
        deletable: list[str] = []
        error = ""
        try:
            refs = await asyncio.to_thread(session.message_ids, self._max_per_scan)
            for ref in refs:
                if stop is not None and stop.is_set():
                    break
                bounce = await asyncio.to_thread(self._read, session, ref)
                read += 1
                handled = await self._hand_on(box, bounce)
                if handled is not None:
                    deletable.append(ref)
                    recorded += max(handled, 0)
                    ignored += handled < 0
            await asyncio.to_thread(session.delete, deletable)
        except Exception as exc:
            error = str(exc) if isinstance(exc, MailboxError) else describe(exc)
            deletable = await self._delete_anyway(session, deletable)
        finally:
            await asyncio.to_thread(session.close)
        result = ScanResult(mailbox=name, read=read, recorded=recorded, ignored=ignored,
                            deleted=len(deletable), kept=read - len(deletable), error=error)
        if error:
            log.warning("bounce_mailbox_scan_failed", mailbox=name, error=error, read=read,
                        recorded=recorded)
        else:
            log.info("bounce_mailbox_scanned", mailbox=name, read=read, recorded=recorded,
                     ignored=ignored, deleted=len(deletable), kept=result.kept)
        return result

    @staticmethod
    async def _delete_anyway(session: MailboxSession, refs: list[str]) -> list[str]:
        """After a failure mid-scan, still delete what was recorded if the session allows."""
        if not refs:
            return refs
        try:
            await asyncio.to_thread(session.delete, refs)
        except Exception:
            return []  # they stay; the next scan deletes them without recording them again
        return refs

    def _open(self, box: BounceMailbox) -> MailboxSession:
        return open_session(box, self._tls, timeout=self._timeout, max_bytes=self._max_bytes)

    @staticmethod
    def _read(session: MailboxSession, ref: str) -> ReadBounce:
        return read_bounce(session.fetch(ref))

    async def _hand_on(self, box: BounceMailbox, bounce: ReadBounce) -> int | None:
        """Give one message's bounce to the recorder. The message may go when this returns
        a number: how many bounces the recorder says it recorded (0 for one it already had,
        or for an unknown subscriber; 0 too when this process recorded it before and only its
        deletion failed), or -1 for a message that is no bounce of ours. ``None``: it must
        stay (the recorder failed)."""
        if not bounce.attributable:
            log.info("bounce_mailbox_message_ignored", mailbox=mailbox_name(box),
                     key=bounce.key, reason="names no subscriber")
            return -1
        if bounce.key in self._recorded:
            return 0
        report = self._report(box, bounce)
        try:
            recorded = await self._record([report])
        except Exception as exc:
            log.warning("bounce_mailbox_record_failed", mailbox=mailbox_name(box),
                        key=report.key, error=describe(exc))
            return None
        self._remember(report.key)
        log.info("bounce_mailbox_bounce", mailbox=mailbox_name(box), key=report.key,
                 kind=report.kind, campaign_uuid=report.campaign_uuid,
                 subscriber_uuid=report.subscriber_uuid, recorded=recorded,
                 reason=report.meta.get("classify_reason", ""))
        return max(recorded, 0)

    def _remember(self, key: str) -> None:
        self._recorded[key] = None
        self._recorded.move_to_end(key)
        while len(self._recorded) > REMEMBERED:
            self._recorded.popitem(last=False)

    @staticmethod
    def _report(box: BounceMailbox, bounce: ReadBounce) -> MailboxBounce:
        now = datetime.now(UTC)
        created = bounce.date if bounce.date is not None and bounce.date <= now else None
        return MailboxBounce(
            kind=bounce.kind, source=box.type, key=bounce.key,
            email="" if bounce.subscriber_uuid else bounce.recipient,
            subscriber_uuid=bounce.subscriber_uuid, campaign_uuid=bounce.campaign_uuid,
            meta=dict(bounce.meta), created_at=created)

    @contextlib.asynccontextmanager
    async def _scan_lock(self) -> AsyncIterator[bool]:
        """Whether this process may scan: the advisory lock, held on one pooled connection
        for the scan (committed at once, so no transaction stays open meanwhile)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key,))
            row = await cur.fetchone()
            await conn.commit()
            held = bool(row and row[0])
            try:
                yield held
            finally:
                if held:
                    try:
                        await conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key,))
                        await conn.commit()
                    except Exception as exc:
                        # never hand a connection that may still hold the lock back to the pool
                        log.warning("bounce_mailbox_unlock_failed", error=describe(exc))
                        await conn.close()
