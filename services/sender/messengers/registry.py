"""The messengers by name, built from the settings and rebuilt when they change.

Names are listmonk's: ``email`` (every enabled SMTP server; a message goes to one chosen as
``EmailMessenger`` chooses), ``email-<name>`` for each named server (listmonk stores SMTP
names with that prefix; one without it gets it here), and each enabled postback messenger's
``name``. A name taken twice keeps its first owner (the settings API refuses duplicates; this
only guards hand-edited settings).

``Messengers.apply`` swaps in the messengers for new settings at once and closes the old ones
in the background: a send already handed to an old messenger finishes on it (its pools close
only when it is done), and a server or postback whose settings did not change keeps its
pool, its warm connections and its rate limiter. ``send`` looks a messenger up and enters it
without yielding to the event loop in between, so it can never pick a messenger being closed.

Rate limits (messages a second, 0 or absent for none) come from ``RateLimits``: the settings
model has no field for them yet, so the caller passes them by messenger name (``email``,
``email-<name>``, a postback's name) and by SMTP server (its ``uuid``, else its name).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
import msgspec
import structlog

from events.settings import AppSettings, PostbackMessenger, SMTPServer
from services.sender.messengers.base import DeliveryResult, Messenger, OutgoingMessage
from services.sender.messengers.postback import HTTPPostback
from services.sender.messengers.ratelimit import SYSTEM_CLOCK, Clock, Limiter, limiter_for_rate
from services.sender.messengers.smtp import EmailMessenger, SMTPServerPool
from services.sender.messengers.smtp_transport import Connector

log = structlog.get_logger(__name__)

EMAIL = "email"


class UnknownMessenger(LookupError):
    """No enabled messenger has that name."""


@dataclass(frozen=True)
class RateLimits:
    """Messages a second per messenger name and per SMTP server (uuid or name), overriding
    the ``message_rate`` each server and postback messenger has in the settings."""

    messengers: Mapping[str, float] = field(default_factory=dict)
    servers: Mapping[str, float] = field(default_factory=dict)

    def for_server(self, server: SMTPServer) -> float:
        for key in (server.uuid, server.name):
            if key and key in self.servers:
                return self.servers[key]
        return server.message_rate

    def for_postback(self, config: PostbackMessenger) -> float:
        return self.messengers.get(config.name, config.message_rate)


def messenger_name(server: SMTPServer) -> str:
    """A named server's own messenger name (``email-<name>``), ``""`` for an unnamed one."""
    name = server.name.strip()
    if not name:
        return ""
    return name if name.startswith("email-") else f"email-{name}"


def _key(config: SMTPServer | PostbackMessenger, rate: float) -> bytes:
    return msgspec.json.encode(config) + f"|{rate!r}".encode()


ConnectorFactory = Callable[[SMTPServer], Connector | None]


class Messengers:
    """The current messengers; ``apply`` settings to rebuild them."""

    def __init__(self, *, rates: RateLimits | None = None, clock: Clock = SYSTEM_CLOCK,
                 connectors: ConnectorFactory = lambda server: None,
                 postback_transport: httpx.AsyncBaseTransport | None = None,
                 postback_retry_delay: float = 0.5) -> None:
        self.rates = rates or RateLimits()
        self._clock = clock
        self._connectors = connectors
        self._postback_transport = postback_transport
        self._postback_retry_delay = postback_retry_delay
        self._servers: dict[bytes, SMTPServerPool] = {}
        self._postbacks: dict[bytes, HTTPPostback] = {}
        self._limiters: dict[tuple[str, float], Limiter] = {}
        self._by_name: dict[str, Messenger] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    def names(self) -> list[str]:
        """The enabled messengers' names, ``email`` first, as listmonk lists them."""
        return list(self._by_name)

    def get(self, name: str) -> Messenger:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownMessenger(name) from None

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    async def send(self, name: str, message: OutgoingMessage) -> DeliveryResult:
        """Deliver ``message`` through the messenger called ``name``."""
        return await self.get(name).send(message)

    def apply_settings(self, settings: AppSettings) -> None:
        self.apply(settings.smtp, settings.messengers)

    def apply(self, smtp: Sequence[SMTPServer], postbacks: Sequence[PostbackMessenger]) -> None:
        """Use messengers for these servers and postbacks from now on; close the old ones
        once their sends are over (in the background: ``close`` waits for it)."""
        old_servers, old_postbacks = self._servers, self._postbacks
        old_email = [m for m in self._by_name.values() if isinstance(m, EmailMessenger)]
        servers: dict[bytes, SMTPServerPool] = {}
        for server in smtp:
            if not server.enabled:
                continue
            rate = self.rates.for_server(server)
            key = _key(server, rate)
            if key not in servers:
                servers[key] = old_servers.get(key) or SMTPServerPool(
                    server, limiter=limiter_for_rate(rate, clock=self._clock),
                    connector=self._connectors(server))
        by_name: dict[str, Messenger] = {}
        pools = list(servers.values())
        if pools:
            by_name[EMAIL] = EmailMessenger(EMAIL, pools, limiter=self._limiter(EMAIL))
        for pool in pools:
            name = messenger_name(pool.server)
            if name and self._claim(by_name, name, "smtp"):
                by_name[name] = EmailMessenger(name, [pool], limiter=self._limiter(name))
        kept: dict[bytes, HTTPPostback] = {}
        for config in postbacks:
            if not config.enabled or not self._claim(by_name, config.name, "postback"):
                continue
            rate = self.rates.for_postback(config)
            key = _key(config, rate)
            postback = old_postbacks.get(key) or HTTPPostback(
                config, limiter=self._limiter(config.name),
                retry_delay=self._postback_retry_delay, transport=self._postback_transport)
            kept[key] = postback
            by_name[config.name] = postback
        self._servers, self._postbacks, self._by_name = servers, kept, by_name
        retired_servers = [p for k, p in old_servers.items() if k not in servers]
        retired_postbacks = [p for k, p in old_postbacks.items() if k not in kept]
        if old_email or retired_servers or retired_postbacks:
            task = asyncio.get_running_loop().create_task(
                _retire(old_email, retired_servers, retired_postbacks))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
        log.info("messengers_applied", messengers=list(by_name), smtp_servers=len(servers),
                 retiring_servers=len(retired_servers))

    def _limiter(self, name: str) -> Limiter:
        rate = self.rates.messengers.get(name, 0.0)
        limiter = self._limiters.get((name, rate))
        if limiter is None:
            limiter = self._limiters[(name, rate)] = limiter_for_rate(rate, clock=self._clock)
        return limiter

    @staticmethod
    def _claim(by_name: Mapping[str, Messenger], name: str, kind: str) -> bool:
        if not name or name in by_name:
            log.warning("messenger_name_skipped", messenger=name, kind=kind,
                        reason="empty" if not name else "taken")
            return False
        return True

    async def retired(self) -> None:
        """Wait until every messenger replaced by ``apply`` is closed."""
        while self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def close(self) -> None:
        """Close every messenger (waiting for sends under way) and the retiring ones."""
        email = [m for m in self._by_name.values() if isinstance(m, EmailMessenger)]
        servers, postbacks = list(self._servers.values()), list(self._postbacks.values())
        self._by_name, self._servers, self._postbacks = {}, {}, {}
        await _retire(email, servers, postbacks)
        await self.retired()


async def _retire(email: Sequence[EmailMessenger], servers: Sequence[SMTPServerPool],
                  postbacks: Sequence[HTTPPostback]) -> None:
    """Close messengers in order: the groups first (their sends end on the pools), then the
    pools and postbacks that no current messenger uses."""
    await asyncio.gather(*(m.close() for m in email))
    results = await asyncio.gather(*(s.close() for s in servers),
                                   *(p.close() for p in postbacks), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            log.warning("messenger_close_failed", error=repr(result))
