"""SMTP sessions over aiosmtplib: connect, TLS, AUTH, and one mail transaction at a time.

This is the part of the SMTP messenger that speaks the protocol, behind a small interface
(``SMTPSession``, opened by a ``Connector``) so a faster client (the wire-speed issue's
pipelined one) can replace it without touching pools, retries or routing. A session answers
an ``SMTPReply`` for a message the server accepted and raises ``SMTPFailure`` otherwise; the
failure says whether trying again later may help (``temporary``: a 4xx, or no answer at all)
and whether the session is still usable.

Failures before any message (connecting, TLS, EHLO, AUTH) are temporary whatever their code:
they say nothing about the recipient, and a server that refuses our password today is fixed
tomorrow; a message refused for good is one whose MAIL, RCPT or DATA got a 5xx.

Differences from listmonk (Go's ``net/smtp`` through smtppool): no ``RSET`` after a successful
message (the transaction is complete; smtppool spends a round trip on it per message);
``SMTPUTF8`` is asked for when an address is not ASCII and refused cleanly when the server
does not offer it; ``SIZE`` is declared when the server offers it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiosmtplib
import structlog

from events.settings import SMTPServer

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0
DEFAULT_HELLO = "localhost"  # what listmonk (Go's net/smtp) says when hello_hostname is empty


class SMTPFailure(Exception):
    """An SMTP step failed. ``code`` is the server's reply code (0: no reply: refused,
    dropped or timed out connection, or a problem found before sending); ``stage`` the step
    (``connect``, ``tls``, ``ehlo``, ``auth``, ``mail``, ``rcpt``, ``data``);
    ``session_lost``: the connection is gone or in an unknown state."""

    def __init__(self, code: int, text: str, *, stage: str, temporary: bool,
                 session_lost: bool = False) -> None:
        super().__init__(f"{stage}: {code} {text}" if code else f"{stage}: {text}")
        self.code = code
        self.text = text
        self.stage = stage
        self.temporary = temporary
        self.session_lost = session_lost


@dataclass(frozen=True)
class SMTPReply:
    """The server's answer to a message it accepted; ``refused`` lists recipients it turned
    down (address -> (code, text)) while accepting others."""

    code: int
    text: str
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


class SMTPSession:
    """What a pool lends: one connection, ready for mail transactions (the ``Poolable``
    interface plus ``send``). Subclass it, or match it, to swap the transport."""

    def is_usable(self) -> bool:
        raise NotImplementedError

    async def send(self, envelope_from: str, recipients: Sequence[str],
                   data: bytes) -> SMTPReply:
        """One transaction: MAIL, RCPT for each recipient, DATA. ``data`` is the message with
        CRLF line ends, not yet dot-stuffed."""
        raise NotImplementedError

    async def quit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


Connector = Callable[[], Awaitable[SMTPSession]]
"""Opens a new session to one server (greeting, TLS and AUTH done) or raises SMTPFailure."""


def is_temporary(code: int) -> bool:
    """Whether a reply code means "try later": 4xx, or no reply (0). 5xx is final."""
    return code == 0 or 400 <= code < 500


def tls_context_for(server: SMTPServer, trust: ssl.SSLContext | None = None) -> ssl.SSLContext:
    """The client TLS context: the system's CAs and hostname check, or none of it with
    ``tls_skip_verify`` (listmonk's InsecureSkipVerify). ``trust`` replaces the system
    context (a private CA)."""
    if server.tls_skip_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return trust or ssl.create_default_context()


def crlf_only(data: bytes) -> bool:
    """Whether every CR and LF in ``data`` belongs to a CRLF."""
    pairs = data.count(b"\r\n")
    return data.count(b"\r") == pairs and data.count(b"\n") == pairs


def dot_stuffed(data: bytes) -> bytes:
    """``data`` (CRLF line ends) as DATA sends it: a line starting with ``.`` gets another
    one (RFC 5321 4.5.2), and the last line ends in CRLF."""
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed


class AiosmtplibSession(SMTPSession):
    """An ``SMTPSession`` on an aiosmtplib client."""

    def __init__(self, client: aiosmtplib.SMTP, label: str) -> None:
        self._client = client
        self._label = label

    def is_usable(self) -> bool:
        return self._client.is_connected

    async def send(self, envelope_from: str, recipients: Sequence[str],
                   data: bytes) -> SMTPReply:
        client = self._client
        if not recipients:
            raise SMTPFailure(0, "the message has no recipient", stage="mail", temporary=False)
        utf8 = not envelope_from.isascii() or not all(r.isascii() for r in recipients)
        if utf8 and not client.supports_extension("smtputf8"):
            raise SMTPFailure(0, "a non-ASCII address needs SMTPUTF8, which the server does "
                              "not offer", stage="mail", temporary=False)
        options = ["SMTPUTF8"] if utf8 else []
        if client.supports_extension("size"):
            options.append(f"SIZE={len(data)}")
        encoding = "utf-8" if utf8 else "ascii"
        stage = "mail"
        try:
            await client.mail(envelope_from, options=options, encoding=encoding)
            stage = "rcpt"
            refused = await self._recipients(recipients, encoding)
            stage = "data"
            response = await self._data(data)
            return SMTPReply(response.code, response.message, refused)
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            raise SMTPFailure(exc.code, exc.message, stage=stage,
                              temporary=is_temporary(exc.code),
                              session_lost=not client.is_connected) from None
        except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
            self.abort()  # a late reply would be read as the next command's
            raise SMTPFailure(0, f"no reply in time: {exc}", stage=stage, temporary=True,
                              session_lost=True) from None
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            self.abort()
            raise SMTPFailure(0, f"connection lost: {exc}", stage=stage, temporary=True,
                              session_lost=True) from None
        except (ValueError, UnicodeError) as exc:  # an address that cannot be sent
            await self._reset()
            raise SMTPFailure(0, f"invalid address: {exc}", stage=stage,
                              temporary=False, session_lost=not client.is_connected) from None

    async def _data(self, data: bytes) -> aiosmtplib.SMTPResponse:
        """DATA, then the message. aiosmtplib rewrites every message's line ends and doubles
        its leading dots with two regular-expression passes over it, a third of its cost per
        message; messages built here already end every line in CRLF, so only the dots are
        doubled, with ``bytes.replace``. Anything else goes through aiosmtplib's own path."""
        client = self._client
        if not crlf_only(data):
            return await client.data(data)
        response = await client.execute_command(b"DATA")
        if response.code != 354:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        protocol.write(dot_stuffed(data) + b".\r\n")
        try:
            response = await protocol.read_response(timeout=client.timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
            client.close()
            raise
        if response.code != 250:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
        return response

    async def _recipients(self, recipients: Sequence[str],
                          encoding: str) -> dict[str, tuple[int, str]]:
        refused: dict[str, tuple[int, str]] = {}
        for address in recipients:
            try:
                await self._client.rcpt(address, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused[address] = (exc.code, exc.message)
        if len(refused) == len(recipients):
            # Every recipient refused: a 4xx for any of them means it may pass later.
            code, text = next(((c, t) for c, t in refused.values() if is_temporary(c)),
                              next(iter(refused.values())))
            raise aiosmtplib.SMTPResponseException(code, text)
        return refused

    async def _reset(self) -> None:
        """RSET after a refused transaction so the session can carry the next one; a
        session whose RSET fails is dropped."""
        if not self._client.is_connected:
            return
        try:
            await self._client.rset()
        except (aiosmtplib.SMTPException, ConnectionError, TimeoutError):
            self.abort()

    async def quit(self) -> None:
        try:
            await self._client.quit()
        except (aiosmtplib.SMTPException, ConnectionError, TimeoutError):
            pass
        finally:
            self.abort()

    def abort(self) -> None:
        self._client.close()


def aiosmtplib_connector(server: SMTPServer, *, connect_timeout: float = CONNECT_TIMEOUT,
                         command_timeout: float = COMMAND_TIMEOUT,
                         trust: ssl.SSLContext | None = None) -> Connector:
    """A ``Connector`` for ``server`` (its ``tls_type``, ``auth_protocol`` and
    ``hello_hostname``). ``connect_timeout`` bounds the whole setup."""
    label = f"{server.host}:{server.port}"

    async def connect() -> SMTPSession:
        if not server.host.strip():
            raise SMTPFailure(0, "the server has no host", stage="connect", temporary=True,
                              session_lost=True)
        tls_type = server.tls_type.upper()
        context = tls_context_for(server, trust) if tls_type in ("TLS", "STARTTLS") else None
        client = aiosmtplib.SMTP(
            hostname=server.host.strip(), port=server.port,
            local_hostname=server.hello_hostname.strip() or DEFAULT_HELLO,
            timeout=command_timeout, use_tls=tls_type == "TLS", start_tls=False,
            tls_context=context if tls_type == "TLS" else None)
        stage = "connect"
        try:
            async with asyncio.timeout(connect_timeout):
                await client.connect()
                stage = "ehlo"
                await _hello(client)
                if tls_type == "STARTTLS":
                    stage = "tls"
                    if not client.supports_extension("starttls"):
                        raise SMTPFailure(0, "the server does not offer STARTTLS",
                                          stage=stage, temporary=True, session_lost=True)
                    await client.starttls(tls_context=context)
                    stage = "ehlo"
                    await _hello(client)
                stage = "auth"
                await _authenticate(client, server)
        except SMTPFailure:
            client.close()
            raise
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise SMTPFailure(exc.code, exc.message, stage=stage, temporary=True,
                              session_lost=True) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            client.close()
            text = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError) and not str(exc):
                text = f"timed out after {connect_timeout:g}s"
            raise SMTPFailure(0, f"{label}: {text}", stage=stage, temporary=True,
                              session_lost=True) from None
        log.debug("smtp_session_opened", server=label, tls=tls_type)
        return AiosmtplibSession(client, label)

    return connect


async def _hello(client: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO for a server that knows no EHLO."""
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:
        await client.helo()


async def _authenticate(client: aiosmtplib.SMTP, server: SMTPServer) -> None:
    protocol = server.auth_protocol.strip().lower()
    if protocol in ("", "none"):
        return
    methods = {"plain": client.auth_plain, "login": client.auth_login,
               "cram": client.auth_crammd5}
    method = methods.get(protocol)
    if method is None:
        raise SMTPFailure(0, f"unknown auth_protocol {server.auth_protocol!r}", stage="auth",
                          temporary=True, session_lost=True)
    if not client.supports_extension("auth"):
        raise SMTPFailure(0, "the server does not offer AUTH", stage="auth", temporary=True,
                          session_lost=True)
    await method(server.username, server.password)
