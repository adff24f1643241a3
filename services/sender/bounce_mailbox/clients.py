"""POP3 and IMAP sessions over the standard library's blocking clients (run them in a thread).

A ``MailboxSession`` lists the messages of a mailbox (oldest first), fetches one, marks some
deleted and closes. Deletions are committed the way each protocol commits them: POP3's DELE
takes effect at QUIT (RFC 1939's UPDATE state: a connection that drops before deletes
nothing), IMAP's ``\\Deleted`` flag at EXPUNGE. Messages are read without changing them
otherwise (IMAP ``BODY.PEEK``: no ``\\Seen``).

Connection per settings (``events.settings.BounceMailbox``): ``tls_enabled`` connects with TLS
(POP3S 995, IMAPS 993), or with ``starttls`` connects in plain text and upgrades (STLS,
STARTTLS); ``tls_skip_verify`` accepts any certificate. Authentication: ``none`` logs in not at
all; POP3 sends USER/PASS for every other value (as listmonk does); IMAP uses LOGIN for
``userpass`` and ``login``, AUTHENTICATE PLAIN for ``plain``, CRAM-MD5 for ``cram``.

A message larger than ``max_bytes`` is read in part (its first ``max_bytes``: IMAP's partial
fetch, POP3's TOP): the report and the returned headers come first in a bounce.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import poplib
import re
import ssl
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from events.settings import BounceMailbox

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 2_000_000
LINE_LIMIT = 1_000_000  # POP3 line length accepted (poplib's own limit is 2,048 bytes)
_TOP_LINE_BYTES = 100  # bytes a line is taken to hold when turning max_bytes into TOP's lines
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)


class MailboxError(Exception):
    """A mailbox could not be read (connection, TLS, login, protocol): the message says how."""


class MailboxSession(Protocol):
    def message_ids(self, limit: int) -> list[str]:
        """The ids of up to ``limit`` messages, oldest first."""
        ...

    def fetch(self, ref: str) -> bytes:
        """One message's bytes (its first ``max_bytes`` at most)."""
        ...

    def delete(self, refs: Sequence[str]) -> None:
        """Mark these messages deleted (committed by ``close`` for POP3, here for IMAP)."""
        ...

    def close(self) -> None:
        """End the session (POP3: QUIT, which commits its deletions); never raises."""
        ...


TlsFactory = Callable[[BounceMailbox], ssl.SSLContext]


def tls_context(box: BounceMailbox) -> ssl.SSLContext:
    """The client TLS context of a mailbox: the system's trust store, or no checks at all
    with ``tls_skip_verify``."""
    context = ssl.create_default_context()
    if box.tls_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def open_session(box: BounceMailbox, tls: TlsFactory = tls_context, *,
                 timeout: float = DEFAULT_TIMEOUT,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> MailboxSession:
    """Connect and log in (blocking); ``MailboxError`` when it cannot."""
    try:
        if box.type == "imap":
            return _ImapSession(box, tls, timeout, max_bytes)
        if box.type == "pop":
            return _PopSession(box, tls, timeout, max_bytes)
    except MailboxError:
        raise
    except (OSError, EOFError, poplib.error_proto, imaplib.IMAP4.error) as exc:
        raise MailboxError(describe(exc)) from exc
    raise MailboxError(f"unknown mailbox type {box.type!r}")


def describe(exc: BaseException) -> str:
    """A one-line account of a client error (the server's reply when there is one)."""
    text = " ".join(str(a.decode(errors="replace") if isinstance(a, bytes) else a)
                    for a in exc.args) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


class _POP3(poplib.POP3):
    """poplib's client with a line limit fit for real bounces (long HTML lines)."""

    def _getline(self) -> tuple[bytes, int]:
        line = self.file.readline(LINE_LIMIT + 1)
        if len(line) > LINE_LIMIT:
            raise poplib.error_proto("line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


class _POP3_SSL(poplib.POP3_SSL):
    _getline = _POP3._getline


class _PopSession:
    def __init__(self, box: BounceMailbox, tls: TlsFactory, timeout: float,
                 max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._sizes: dict[str, int] = {}
        conn: poplib.POP3
        if box.tls_enabled and not box.starttls:
            conn = _POP3_SSL(box.host, box.port, timeout=timeout, context=tls(box))
        else:
            conn = _POP3(box.host, box.port, timeout=timeout)
        self._conn = conn
        try:
            if box.tls_enabled and box.starttls:
                conn.stls(tls(box))
            if box.auth_protocol != "none":
                conn.user(box.username)
                conn.pass_(box.password)
        except BaseException:
            self.close()
            raise

    def message_ids(self, limit: int) -> list[str]:
        try:
            _, lines, _ = self._conn.list()
        except (OSError, EOFError, poplib.error_proto) as exc:
            raise MailboxError(describe(exc)) from exc
        refs: list[str] = []
        for line in lines:
            number, _, size = line.decode("ascii", errors="replace").partition(" ")
            if number.isdigit():
                refs.append(number)
                self._sizes[number] = int(size) if size.strip().isdigit() else 0
        return refs[:limit]

    def fetch(self, ref: str) -> bytes:
        try:
            if self._sizes.get(ref, 0) > self._max_bytes:
                _, lines, _ = self._conn.top(int(ref), self._max_bytes // _TOP_LINE_BYTES)
            else:
                _, lines, _ = self._conn.retr(int(ref))
        except (OSError, EOFError, poplib.error_proto) as exc:
            raise MailboxError(describe(exc)) from exc
        return b"\r\n".join(lines)[: self._max_bytes]

    def delete(self, refs: Sequence[str]) -> None:
        try:
            for ref in refs:
                self._conn.dele(int(ref))
        except (OSError, EOFError, poplib.error_proto) as exc:
            raise MailboxError(describe(exc)) from exc

    def close(self) -> None:
        try:
            self._conn.quit()
        except Exception:
            with contextlib.suppress(Exception):
                self._conn.close()


class _ImapSession:
    def __init__(self, box: BounceMailbox, tls: TlsFactory, timeout: float,
                 max_bytes: int) -> None:
        self._max_bytes = max_bytes
        conn: imaplib.IMAP4
        if box.tls_enabled and not box.starttls:
            conn = imaplib.IMAP4_SSL(box.host, box.port, ssl_context=tls(box), timeout=timeout)
        else:
            conn = imaplib.IMAP4(box.host, box.port, timeout=timeout)
        self._conn = conn
        try:
            if box.tls_enabled and box.starttls:
                conn.starttls(tls(box))
            self._login(box)
            typ, data = conn.select(imap_folder(box.folder or "INBOX"))
            if typ != "OK":
                raise MailboxError(f"cannot select folder {box.folder!r}: {_text(data)}")
        except BaseException:
            self.close()
            raise

    def _login(self, box: BounceMailbox) -> None:
        conn = self._conn
        if box.auth_protocol == "none":
            return
        if box.auth_protocol == "plain":
            secret = f"\0{box.username}\0{box.password}".encode()
            conn.authenticate("PLAIN", lambda _challenge: secret)
        elif box.auth_protocol == "cram":
            conn.login_cram_md5(box.username, box.password)
        else:
            conn.login(box.username, box.password)

    def message_ids(self, limit: int) -> list[str]:
        typ, data = self._call(lambda: self._conn.uid("SEARCH", "UNDELETED"))
        if typ != "OK":
            raise MailboxError(f"UID SEARCH failed: {_text(data)}")
        uids = [u for chunk in data if isinstance(chunk, bytes) for u in chunk.split()]
        ordered = sorted((u.decode("ascii") for u in uids if u.isdigit()), key=int)
        return ordered[:limit]

    def fetch(self, ref: str) -> bytes:
        typ, data = self._call(
            lambda: self._conn.uid("FETCH", ref, f"(BODY.PEEK[]<0.{self._max_bytes}>)"))
        if typ != "OK":
            raise MailboxError(f"UID FETCH {ref} failed: {_text(data)}")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and _UID.search(item[0]):
                return bytes(item[1])
        raise MailboxError(f"UID FETCH {ref}: no message in the answer")

    def delete(self, refs: Sequence[str]) -> None:
        if not refs:
            return
        typ, data = self._call(
            lambda: self._conn.uid("STORE", ",".join(refs), "+FLAGS.SILENT", "(\\Deleted)"))
        if typ != "OK":
            raise MailboxError(f"UID STORE failed: {_text(data)}")
        typ, data = self._call(self._conn.expunge)
        if typ != "OK":
            raise MailboxError(f"EXPUNGE failed: {_text(data)}")

    def close(self) -> None:
        try:
            self._conn.logout()
        except Exception:
            with contextlib.suppress(Exception):
                self._conn.shutdown()

    def _call(self, command: Callable[[], tuple[str, Sequence[Any]]]) -> tuple[str, Sequence[Any]]:
        try:
            return command()
        except (OSError, EOFError, imaplib.IMAP4.error) as exc:
            raise MailboxError(describe(exc)) from exc


def _text(data: Sequence[Any]) -> str:
    return " ".join(d.decode(errors="replace") if isinstance(d, bytes) else str(d)
                    for d in data)[:300]


def imap_folder(name: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII in modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(utf16).decode("ascii").rstrip("=")
                       .replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    encoded = "".join(out)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'
