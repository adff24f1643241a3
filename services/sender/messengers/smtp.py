"""The e-mail messengers: one pool per SMTP server, and ``email`` / ``email-<name>`` over them.

``SMTPServerPool`` is one enabled ``smtp[]`` server: its sessions (``SessionPool`` with the
server's ``max_conns``, ``wait_timeout`` and ``idle_timeout``), its ``email_headers`` added to
each message (the message's own headers win, as in listmonk), its retries and its rate limit.
A message becomes MIME through ``services.sender.message.build_mime`` and goes out with the
envelope that gives; ``deliver`` takes bytes already built, for a sender that builds MIME its
own way. Replies become a ``DeliveryResult``: 2xx delivered; 4xx, dropped connections and
timeouts temporary; 5xx permanent, with the server's code and text.

Retries: a temporary failure is tried again after ``msg_retry_delay``, up to
``max_msg_retries`` more times (each retry on whichever session the pool gives). smtppool,
listmonk's pool, counts the first attempt among its "retries" and in practice retries only
errors found before MAIL; postlog retries what may pass on a second try and nothing else.
A reused session that turns out to be dead on its first command (the server closed it while
idle) is replaced at once without counting a retry. A pool with no free session within
``wait_timeout`` gives a temporary failure at once: retrying immediately would only add load.

``EmailMessenger`` is a named group of server pools (listmonk's ``email``: every enabled
server; ``email-<name>``: one). A message goes to a server chosen at random among those
whose ``from_addresses`` list the message's From address, else its domain, else among all,
as listmonk chooses. ``send_test_message`` sends one message through a server that need not
be saved (``POST /api/settings/smtp/test``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from email.utils import parseaddr

import msgspec
import structlog

from events.messages import MessageContent
from events.settings import SMTPServer
from services.sender.message import Mail, build_mime
from services.sender.messengers.base import DeliveryResult, OutgoingMessage, Recipient
from services.sender.messengers.durations import duration_or, positive
from services.sender.messengers.inflight import InFlight, MessengerClosed
from services.sender.messengers.pool import PoolClosed, PoolTimeout, SessionPool
from services.sender.messengers.ratelimit import UNLIMITED, Limiter
from services.sender.messengers.smtp_transport import (
    CONNECT_TIMEOUT,
    Connector,
    SMTPFailure,
    SMTPReply,
    SMTPSession,
    aiosmtplib_connector,
)

log = structlog.get_logger(__name__)

_SETUP_STAGES = frozenset({"connect", "tls", "ehlo", "auth"})


def server_label(server: SMTPServer) -> str:
    """How logs and errors name a server: its messenger name, else host:port."""
    return server.name or f"{server.host}:{server.port}"


def server_headers(server: SMTPServer) -> list[tuple[str, str]]:
    """``email_headers`` (a list of ``{name: value}`` maps) as ordered pairs."""
    return [(name, value) for entry in server.email_headers for name, value in entry.items()]


class SMTPServerPool:
    """One SMTP server: connections, headers, retries and rate limit."""

    def __init__(self, server: SMTPServer, *, limiter: Limiter = UNLIMITED,
                 connector: Connector | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.server = server
        self.label = server_label(server)
        self.limiter = limiter
        self.retries = max(0, server.max_msg_retries)
        self.retry_delay = max(0.0, duration_or(server.msg_retry_delay, 0.01))
        self.headers = server_headers(server)
        self.pool: SessionPool[SMTPSession] = SessionPool(
            connector or aiosmtplib_connector(server, connect_timeout=connect_timeout),
            max_conns=max(1, server.max_conns),
            wait_timeout=positive(duration_or(server.wait_timeout, 5.0), 5.0),
            idle_timeout=duration_or(server.idle_timeout, 15.0),
            label=self.label)
        self._inflight = InFlight(self.label)

    def mail_for(self, message: OutgoingMessage) -> Mail:
        """The e-mail for ``message`` with this server's headers (the message's win)."""
        content = message.content
        if self.headers:
            content = msgspec.structs.replace(content, headers=[*content.headers,
                                                                *self.headers])
        return build_mime(content, from_email=message.from_email,
                          content_type=message.content_type, attachments=message.attachments,
                          message_id=message.message_id)

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        with self._inflight.track():
            mail = self.mail_for(message)
            return await self._deliver(mail.envelope_from, mail.recipients, mail.as_bytes())

    async def deliver(self, envelope_from: str, recipients: Sequence[str],
                      data: bytes) -> DeliveryResult:
        """Send a message already serialised (CRLF line ends), with retries."""
        with self._inflight.track():
            return await self._deliver(envelope_from, recipients, data)

    async def _deliver(self, envelope_from: str, recipients: Sequence[str],
                       data: bytes) -> DeliveryResult:
        attempt = 0
        while True:
            await self.limiter.acquire()
            result = await self._attempt(envelope_from, recipients, data)
            if result.delivered or not result.temporary or attempt >= self.retries:
                break
            attempt += 1
            log.debug("smtp_retry", server=self.label, attempt=attempt, code=result.code)
            await asyncio.sleep(self.retry_delay)
        if not result.delivered:  # never the text: servers quote the recipient's address
            log.info("smtp_not_delivered", server=self.label, code=result.code,
                     temporary=result.temporary, attempts=attempt + 1)
        return result

    async def _attempt(self, envelope_from: str, recipients: Sequence[str],
                       data: bytes) -> DeliveryResult:
        """One try; a reused session found dead at its first command is replaced at once."""
        for _ in range(self.pool.max_conns + 1):
            try:
                async with self.pool.lease() as lease:
                    try:
                        reply = await lease.session.send(envelope_from, recipients, data)
                    except SMTPFailure as failure:
                        lease.discard = failure.session_lost
                        if lease.reused and _stale(failure):
                            continue
                        return failure_result(failure)
                    return delivered_result(reply)
            except PoolTimeout as exc:
                return DeliveryResult.retry_later(0, str(exc))
            except PoolClosed:
                raise MessengerClosed(f"SMTP server {self.label!r} is closed") from None
            except SMTPFailure as failure:  # opening a session failed
                return failure_result(failure)
        return DeliveryResult.retry_later(0, f"{self.label}: every pooled connection was dead")

    async def close(self) -> None:
        """Wait for messages under way, then close the connections."""
        await self._inflight.drain()
        await self.pool.close()


def _stale(failure: SMTPFailure) -> bool:
    """A failure on the first command of a reused session that says only "this connection
    is gone" (dropped, or 421 closing), not anything about the message."""
    return failure.stage == "mail" and failure.session_lost and failure.code in (0, 421)


def delivered_result(reply: SMTPReply) -> DeliveryResult:
    detail = reply.text
    if reply.refused:
        refused = "; ".join(f"{addr}: {code} {text}" for addr, (code, text)
                            in reply.refused.items())
        detail = f"{detail} (refused: {refused})"
    return DeliveryResult.ok(reply.code, detail)


def failure_result(failure: SMTPFailure) -> DeliveryResult:
    """A failure's result: the server's text for MAIL/RCPT/DATA replies, the step named for
    failures while opening the session (connect, tls, ehlo, auth)."""
    detail = failure.text
    if failure.stage in _SETUP_STAGES:
        detail = f"{failure.stage} failed: {failure.text}"
    if failure.temporary:
        return DeliveryResult.retry_later(failure.code, detail)
    return DeliveryResult.refused(failure.code, detail)


def error_text(result: DeliveryResult) -> str:
    """A failed result as one line for people: ``"550 5.1.1 no such user"``."""
    return f"{result.code} {result.detail}" if result.code else result.detail


def _address(from_email: str) -> str:
    return parseaddr(from_email)[1].strip().lower()


def normalize_from(value: str) -> str:
    """A ``from_addresses`` entry (an address or a domain) as routing compares it."""
    return value.strip().lower()


class EmailMessenger:
    """A named group of SMTP servers; each message goes to one of them.

    The server pools are shared (``email`` and ``email-<name>`` use the same pool for a
    server, so its ``max_conns`` holds across both) and owned by whoever built them
    (``registry.Messengers``): ``close`` waits for this messenger's sends only."""

    def __init__(self, name: str, servers: Sequence[SMTPServerPool], *,
                 limiter: Limiter = UNLIMITED,
                 choose: Callable[[Sequence[SMTPServerPool]], SMTPServerPool] = random.choice,
                 ) -> None:
        if not servers:
            raise ValueError(f"messenger {name!r} has no SMTP server")
        self.name = name
        self.servers = tuple(servers)
        self.limiter = limiter
        self._choose = choose
        self._by_from: dict[str, list[SMTPServerPool]] = {}
        for pool in self.servers:
            for entry in pool.server.from_addresses:
                key = normalize_from(entry)
                if key and pool not in self._by_from.setdefault(key, []):
                    self._by_from[key].append(pool)
        self._inflight = InFlight(name)

    def candidates(self, from_email: str) -> Sequence[SMTPServerPool]:
        """The servers a message from ``from_email`` may go to: those listing its address,
        else its domain, else all."""
        if self._by_from:
            address = _address(from_email)
            if address:
                domain = address.rpartition("@")[2]
                routed = self._by_from.get(address) or self._by_from.get(domain)
                if routed:
                    return routed
        return self.servers

    def server_for(self, from_email: str) -> SMTPServerPool:
        return self._choose(self.candidates(from_email))

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        with self._inflight.track():
            await self.limiter.acquire()
            return await self.server_for(message.from_email).send(message)

    async def close(self) -> None:
        await self._inflight.drain()


TEST_SUBJECT = "postlog: SMTP test"
TEST_BODY = ("<p>This message was sent by postlog to check an SMTP server's settings. "
             "It arrived, so they work.</p>")


async def send_test_message(server: SMTPServer, *, to: str, from_email: str,
                            subject: str = TEST_SUBJECT, body: str = TEST_BODY,
                            connect_timeout: float = 10.0,
                            connector: Connector | None = None) -> DeliveryResult:
    """Send one message through ``server`` (saved or not) on a connection of its own, with
    no retry, and say what happened: ``error_text(result)`` is the SMTP error to show
    (listmonk answers it as the error of ``POST /api/settings/smtp/test``)."""
    single = msgspec.structs.replace(server, max_conns=1, max_msg_retries=0, idle_timeout="0s")
    pool = SMTPServerPool(single, connector=connector, connect_timeout=connect_timeout)
    message = OutgoingMessage(
        message_id="", from_email=from_email, content_type="html",
        content=_test_content(to, subject, body), recipient=Recipient(uuid="", email=to))
    try:
        return await pool.send(message)
    except Exception as exc:  # a message build_mime cannot make, or an address it rejects
        return DeliveryResult.refused(0, str(exc) or type(exc).__name__)
    finally:
        await pool.close()


def _test_content(to: str, subject: str, body: str) -> MessageContent:
    return MessageContent(to=[to], subject=subject, body=body)

