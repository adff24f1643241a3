"""Real SMTP servers in the test's event loop (aiosmtpd), for the messenger tests.

``start_smtp_server`` listens on 127.0.0.1 with no TLS, STARTTLS or implicit TLS, with or
without AUTH (PLAIN and LOGIN built in; CRAM-MD5 implemented here, as aiosmtpd has none),
and records what arrives (``Received``: envelope, bytes, connection) and how connections come
and go. ``Recorder`` holds what a test scripts: replies to give instead of accepting a
message, a gate that holds DATA open, connections to drop. Certificates for its TLS come from
``tests/certificates.py``.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from events.messages import MessageContent
from events.settings import SMTPServer
from services.sender.messengers.base import OutgoingMessage, Recipient
from tests.certificates import Certificate

USER = "mailer"
PASSWORD = "s3cret-pass"




async def wait_for_state(changed: asyncio.Event, condition: Callable[[], bool],
                         within: float = 10.0) -> None:
    """Wait until ``condition()`` holds, checking it each time ``changed`` is set; fail the
    test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("the test server never reached the expected state")
        changed.clear()
        try:
            async with asyncio.timeout(remaining):
                await changed.wait()
        except TimeoutError:
            continue


@dataclass(frozen=True)
class Received:
    """A message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    connection: int
    login: str | None
    at: float


@dataclass
class Recorder:
    """What the server saw, and what a test scripts it to do."""

    messages: list[Received] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)  # given (in order) instead of 250
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> reply
    drop_on_data: int = 0  # the next N DATA commands end with the connection dropped
    gate: asyncio.Event | None = None  # DATA waits for it
    data_attempts: list[float] = field(default_factory=list)
    connections: int = 0
    open_connections: int = 0
    most_open: int = 0
    closed_connections: int = 0
    in_data: int = 0
    most_in_data: int = 0
    auth_mechanisms: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    live: list[SMTP] = field(default_factory=list)  # every connection's server protocol

    def notify(self) -> None:
        self.changed.set()

    def drop_connections(self) -> None:
        """Close every connection from the server's side (as an idle timeout there does)."""
        for protocol in self.live:
            if isinstance(protocol.transport, asyncio.Transport):
                protocol.transport.abort()

    async def wait_for(self, condition: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``condition()`` holds (re-checked whenever the server's state moves)."""
        await wait_for_state(self.changed, condition, within)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_attempts.append(time.monotonic())
        self.in_data += 1
        self.most_in_data = max(self.most_in_data, self.in_data)
        self.notify()
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.drop_on_data > 0:
                self.drop_on_data -= 1
                assert isinstance(server.transport, asyncio.Transport)
                server.transport.abort()
                return "250 never seen"
            if self.data_replies:
                return self.data_replies.pop(0)
            content = envelope.original_content or envelope.content or b""
            assert isinstance(content, bytes)
            self.messages.append(Received(
                mail_from=envelope.mail_from or "", rcpt_tos=list(envelope.rcpt_tos),
                content=content, connection=getattr(server, "connection_number", 0),
                login=_login(session), at=time.monotonic()))
            return "250 2.0.0 Ok: queued"
        finally:
            self.in_data -= 1
            self.notify()

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        """RFC 2195: the client answers ``user hex(HMAC-MD5(password, challenge))``."""
        challenge = f"<{uuid.uuid4().hex}@localhost>".encode()
        answer = await server.challenge_auth(challenge)
        if answer is MISSING or not isinstance(answer, bytes):
            return AuthResult(success=False, handled=True)
        user, _, digest = answer.decode("ascii", "replace").rpartition(" ")
        expected = hmac.new(PASSWORD.encode(), challenge, "md5").hexdigest()
        ok = user == USER and hmac.compare_digest(digest, expected)
        if ok:
            self.auth_mechanisms.append("CRAM-MD5")
        return AuthResult(success=ok, handled=False,
                          auth_data=LoginPassword(user.encode(), b""))

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == PASSWORD.encode())
        if ok:
            self.auth_mechanisms.append(mechanism)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def _login(session: Session) -> str | None:
    data = session.auth_data
    return data.login.decode() if isinstance(data, LoginPassword) else None


class _CountingSMTP(SMTP):
    """aiosmtpd's server, counting TCP connections (STARTTLS calls ``connection_made`` a
    second time on the same protocol object: counted once)."""

    recorder: Recorder
    connection_number = 0
    _lost = False

    def connection_made(self, transport: Any) -> None:
        if not self.connection_number:
            rec = self.recorder
            rec.connections += 1
            self.connection_number = rec.connections
            rec.open_connections += 1
            rec.most_open = max(rec.most_open, rec.open_connections)
            rec.notify()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if not self._lost:
            self._lost = True
            self.recorder.open_connections -= 1
            self.recorder.closed_connections += 1
            self.recorder.notify()
        super().connection_lost(error)


@dataclass
class SMTPTestServer:
    port: int
    recorder: Recorder

    def settings(self, **fields: Any) -> SMTPServer:
        """An ``SMTPServer`` pointing here (no TLS, no AUTH unless ``fields`` say so)."""
        values: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "tls_type": "none",
                                  "auth_protocol": "none", "max_conns": 2,
                                  "msg_retry_delay": "10ms", "idle_timeout": "15s",
                                  "wait_timeout": "5s"}
        values.update(fields)
        return SMTPServer(**values)


@asynccontextmanager
async def start_smtp_server(*, tls: str = "none", certificate: Certificate | None = None,
                            auth: bool = False, recorder: Recorder | None = None,
                            ) -> AsyncIterator[SMTPTestServer]:
    """An SMTP server on a free port: ``tls`` is ``none``, ``STARTTLS`` or ``TLS``; ``auth``
    requires PLAIN, LOGIN or CRAM-MD5 with ``USER``/``PASSWORD`` before MAIL."""
    rec = recorder or Recorder()
    loop = asyncio.get_running_loop()
    context = certificate.server_context() if certificate and tls != "none" else None
    kwargs: dict[str, Any] = {"hostname": "test.localhost", "loop": loop, "ident": "test SMTP"}
    if tls == "STARTTLS":
        kwargs.update(tls_context=context, require_starttls=True)
    if auth:  # aiosmtpd offers AUTH after STARTTLS only unless told otherwise
        kwargs.update(authenticator=rec.authenticate, auth_required=tls == "STARTTLS",
                      auth_require_tls=tls == "STARTTLS")
    def factory() -> SMTP:
        protocol = _CountingSMTP(rec, **kwargs)
        protocol.recorder = rec
        rec.live.append(protocol)
        return protocol

    server = await loop.create_server(factory, "127.0.0.1", 0,
                                      ssl=context if tls == "TLS" else None)
    port = server.sockets[0].getsockname()[1]
    try:
        yield SMTPTestServer(port, rec)
    finally:
        server.close()
        if rec.gate is not None:
            rec.gate.set()
        rec.drop_connections()
        await server.wait_closed()


def outgoing(to: str = "ana@example.org", *, subject: str = "Hello Ana",
             body: str = "<p>Hi Ana, here is the news.</p>",
             headers: list[tuple[str, str]] | None = None,
             from_email: str = "Example News <news@example.com>",
             message_id: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=message_id or uuid.uuid4().hex, from_email=from_email, content_type="html",
        content=MessageContent(to=[to], name="Ana", subject=subject, body=body,
                               headers=headers or []),
        recipient=Recipient(uuid=str(uuid.uuid4()), email=to, name="Ana"))
