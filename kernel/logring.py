"""Recent log lines and error/notice events of every postlog process (``GET /api/logs``,
``GET /api/events``; docs/server_info.md).

Each process keeps its lines in a ring (``RING``, fed by the structlog processor
``RING.processor``, installed by ``kernel.logging``) and ships them in batches on core NATS
(``LogShipper``, subject ``log_subject``: outside the JetStream stream's subjects, so nothing is
stored). A process serving the query API also follows that subject (``LogShipper(...,
collect=True)``) and adds the other processes' lines to its ring, so its ring holds the lines
of the whole installation since it started. Lines of errors and warnings are also handed to
the ring's listeners (the server-sent events of ``/api/events``).

Every line passes ``redact`` first (also installed for the process's own output): values under
keys that name secrets or personal data are replaced, and e-mail addresses inside any text are
masked, so neither a secret nor a subscriber's address reaches ``/api/logs``, NATS or stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import threading
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from kernel.settings import Settings

RING_LINES = 5000  # listmonk keeps 5,000 lines
SHIP_BATCH = 500  # lines per NATS message at most
LINE_MAX_CHARS = 4000  # a longer line is cut (one huge value must not fill a NATS message)
REDACTED = "[redacted]"
EMAIL_MASK = "[e-mail]"

# Keys whose values are never logged: secrets, credentials, and subscribers' personal data.
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api_?key|authori[sz]ation|cookie|credential|otp|totp|"
    r"e-?mail|^to$|^name$|subscriber_name|attribs)", re.IGNORECASE)
# Keys that look like the above but hold nothing personal.
_SAFE_KEYS = frozenset({"event", "level", "timestamp", "logger", "client", "component",
                        "service", "projection", "stream", "table", "route", "path", "method"})
_EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")

# Event types of ``/api/events``: listmonk's ``error``, and postlog's ``notice`` (warnings).
EVENT_TYPES = {"error": "error", "critical": "error", "exception": "error",
               "warning": "notice", "warn": "notice"}


def mask_emails(text: str) -> str:
    return _EMAIL.sub(EMAIL_MASK, text) if "@" in text else text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_emails(value)
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(k) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key not in _SAFE_KEYS and bool(_SECRET_KEY.search(key))


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]
           ) -> MutableMapping[str, Any]:
    """structlog processor: secrets and personal data out of every log line."""
    for key, value in list(event_dict.items()):
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        elif isinstance(value, (str, dict, list, tuple)):
            event_dict[key] = _redact_value(value)
    return event_dict


class LogLine(msgspec.Struct, frozen=True):
    """One line: when, level, which process, and the text ``/api/logs`` shows."""

    at: str
    level: str
    origin: str
    text: str


class LogBatch(msgspec.Struct, frozen=True):
    origin: str
    lines: list[LogLine]


@dataclass(frozen=True)
class ServerEvent:
    """An ``/api/events`` event (listmonk's ``{"id", "type", "message", "data"}``)."""

    id: str
    type: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "message": self.message, "data": self.data}


Listener = Callable[[ServerEvent], None]


def _format(event_dict: MutableMapping[str, Any]) -> tuple[str, str, str]:
    """(timestamp, level, text) of a structlog event (after ``redact``)."""
    level = str(event_dict.get("level", "info"))
    at = str(event_dict.get("timestamp") or datetime.now(UTC).isoformat())
    parts = [str(event_dict.get("event", ""))]
    for key, value in event_dict.items():
        if key in ("event", "level", "timestamp"):
            continue
        parts.append(f"{key}={value}")
    text = " ".join(parts).replace("\r", " ").replace("\n", " | ")
    return at, level, text[:LINE_MAX_CHARS]


def default_origin() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LogRing:
    """The last ``RING_LINES`` lines of this process and, where collected, of the others;
    thread-safe (worker threads log too)."""

    def __init__(self, size: int = RING_LINES, origin: str | None = None) -> None:
        self.origin = origin or default_origin()
        self._lines: deque[LogLine] = deque(maxlen=size)
        self._outbox: deque[LogLine] = deque(maxlen=size)  # not shipped yet
        self._listeners: list[tuple[Listener, asyncio.AbstractEventLoop]] = []
        self._wakers: list[tuple[asyncio.Event, asyncio.AbstractEventLoop]] = []
        self._lock = threading.Lock()
        self._sequence = 0

    # -- writing ---------------------------------------------------------------------------
    def processor(self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
                  ) -> MutableMapping[str, Any]:
        """structlog processor (after ``redact``, before the renderer): keep the line."""
        at, level, text = _format(event_dict)
        line = LogLine(at=at, level=level, origin=self.origin, text=text)
        self.add(line, ship=True)
        return event_dict

    def add(self, line: LogLine, *, ship: bool = False) -> None:
        with self._lock:
            self._lines.append(line)
            if ship:
                self._outbox.append(line)
            self._sequence += 1
            sequence = self._sequence
            listeners = list(self._listeners) if line.level in EVENT_TYPES else []
            wakers = list(self._wakers) if ship else []
        for event_set, loop in wakers:
            _call_in(loop, event_set.set)
        if listeners:
            event = ServerEvent(id=f"{line.origin}:{sequence}", type=EVENT_TYPES[line.level],
                                message=f"{line.at} {line.level} {line.text}",
                                data={"origin": line.origin, "level": line.level})
            for listener, loop in listeners:
                _call_in(loop, listener, event)

    # -- reading ---------------------------------------------------------------------------
    def lines(self) -> list[str]:
        """listmonk's ``/api/logs``: the lines, oldest first, as text."""
        with self._lock:
            items = list(self._lines)
        return [f"{line.at} [{line.origin}] {line.level}: {line.text}" for line in items]

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` (in the caller's event loop) for every error or warning
        line from now on; returns the function that stops it."""
        entry = (listener, asyncio.get_running_loop())
        with self._lock:
            self._listeners.append(entry)

        def stop() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(entry)
        return stop

    def take_outbox(self, limit: int = SHIP_BATCH) -> list[LogLine]:
        with self._lock:
            taken: list[LogLine] = []
            while self._outbox and len(taken) < limit:
                taken.append(self._outbox.popleft())
            return taken

    def _waker(self) -> tuple[asyncio.Event, Callable[[], None]]:
        entry = (asyncio.Event(), asyncio.get_running_loop())
        with self._lock:
            self._wakers.append(entry)

        def stop() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._wakers.remove(entry)
        return entry[0], stop


def _call_in(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    """Run ``fn`` in ``loop``'s thread (at once when already there); a closed loop is
    skipped."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        fn(*args)
        return
    with contextlib.suppress(RuntimeError):  # the loop is closed
        loop.call_soon_threadsafe(fn, *args)


# The process's ring: structlog is configured once per process, and so is this.
RING = LogRing()


def log_subject(settings: Settings) -> str:
    """Core NATS subject of the log lines: beside the installation's prefix, not under it, so
    the JetStream stream (``<prefix>.>``) does not store them."""
    return f"{settings.nats_prefix}_server.logs"


class LogShipper:
    """Publishes this process's lines (batches of ``LogBatch``) on ``log_subject`` (unless
    ``ship`` is off); with ``collect``, adds the lines other processes publish to ``ring``.
    NATS down: lines wait in the outbox (the oldest dropped past ``RING_LINES``) and the
    process works on."""

    def __init__(self, settings: Settings, ring: LogRing = RING, *, collect: bool = False,
                 ship: bool = True, name: str = "logs") -> None:
        self._settings = settings
        self._ring = ring
        self._collect = collect
        self._ship = ship
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._client: Any = None
        self._ready = asyncio.Event()
        self._closing = False

    async def start(self) -> None:
        """Connect (in the background: a NATS outage must not hold the process up). Without a
        NATS URL the lines stay in this process's ring."""
        if not self._settings.nats_url:
            return
        self._task = asyncio.create_task(self._run(), name=f"log-shipper-{self._name}")

    async def wait_ready(self, within: float) -> bool:
        """True once connected (and subscribed, when collecting)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), within)
        return self._ready.is_set()

    async def _run(self) -> None:
        from kernel.nats import connect

        subject = log_subject(self._settings)
        decoder = msgspec.json.Decoder(LogBatch)
        encoder = msgspec.json.Encoder()
        wake, stop_waking = self._ring._waker()
        try:
            self._client = await _connect_until_done(connect, self._settings, self._name)
            if self._closing:  # closed while connecting, and the cancellation was lost
                client, self._client = self._client, None
                with contextlib.suppress(Exception):
                    await client.close()
                return
            if self._collect:
                async def on_message(msg: Any) -> None:
                    try:
                        batch = decoder.decode(msg.data)
                    except msgspec.DecodeError:
                        return
                    if batch.origin == self._ring.origin:
                        return  # our own lines are in the ring already
                    for line in batch.lines:
                        self._ring.add(line)

                await self._client.subscribe(subject, cb=on_message)
                await self._client.flush()
            self._ready.set()
            if not self._ship:
                await asyncio.Event().wait()  # only collecting: until closed
            while True:
                lines = self._ring.take_outbox()
                if not lines:
                    wake.clear()
                    if not (lines := self._ring.take_outbox()):
                        await wake.wait()
                        continue
                payload = encoder.encode(LogBatch(origin=self._ring.origin, lines=lines))
                try:
                    await self._client.publish(subject, payload)
                except Exception:
                    await asyncio.sleep(0.5)  # NATS away: these lines stay local only
        finally:
            stop_waking()

    def server_version(self) -> str | None:
        """The version of the NATS server this connection reached (None while not connected)."""
        client = self._client
        if client is None or not client.is_connected:
            return None
        try:
            version = client.connected_server_version
            text = f"{version.major}.{version.minor}.{version.patch}"
        except Exception:
            return None
        return f"{text}-{version.prerelease}" if version.prerelease else text

    async def close(self) -> None:
        """Stop shipping and close the connection. A shipper still connecting may swallow
        the cancellation (nats-py's connect retries inside); it is cancelled again for up to
        two seconds, then left to find ``_closing`` set and close what it connected."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            for _ in range(20):
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=0.1)
                if done:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        task.result()
                    break
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()


async def _connect_until_done(connect: Any, settings: Settings, name: str) -> Any:
    """Connect, retrying while NATS cannot be reached (quietly: this is the log path)."""
    while True:
        try:
            return await connect(settings, name)
        except Exception:
            await asyncio.sleep(1.0)


def install(processors: list[Any]) -> list[Any]:
    """``processors`` with the redaction and the ring inserted before the renderer (last)."""
    return [*processors[:-1], redact, RING.processor, processors[-1]]

