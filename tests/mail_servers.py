"""Real POP3 and IMAP servers in the test's event loop, and real-looking bounce messages.

``start_pop3_server`` / ``start_imap_server`` serve one ``MailStore`` over 127.0.0.1, in plain
text, with implicit TLS (``tls=``) or with STLS/STARTTLS offered (``starttls=``), speaking the
part of RFC 1939 (USER/PASS, STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT, CAPA, STLS)
and RFC 3501 (CAPABILITY, LOGIN, AUTHENTICATE PLAIN, STARTTLS, SELECT/EXAMINE, UID SEARCH, UID
FETCH with BODY.PEEK[] and partial <0.n>, RFC822.SIZE, UID STORE of \\Deleted, EXPUNGE, CLOSE,
NOOP, LOGOUT) that a mail client needs to read and delete messages. They are strict where it
matters to the tests: a wrong password is refused, POP3 deletions take effect only at QUIT
(RFC 1939's UPDATE state), IMAP deletions only at EXPUNGE or CLOSE. ``self_signed`` makes a
certificate for localhost/127.0.0.1 with ``cryptography``.

The ``*_bounce`` functions build the bounces real MTAs send back (Postfix, Exim, Gmail, an
ARF complaint) for a message that carried listmonk's ``X-Listmonk-*`` headers.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.certificates import Certificate, self_signed_certificate

USER = "bounces"
PASSWORD = "pop-and-imap-secret"


# --- certificates --------------------------------------------------------------------------

def self_signed(directory: Path) -> Certificate:
    return self_signed_certificate(directory, "mail")


# --- the mailbox both servers serve --------------------------------------------------------

@dataclass
class MailStore:
    """The messages of one mailbox (by IMAP uid) and what clients did to it."""

    messages: dict[int, bytes] = field(default_factory=dict)
    flagged: set[int] = field(default_factory=set)  # IMAP uids marked deleted (\Deleted)
    next_uid: int = 1
    logins: int = 0  # successful logins
    failed_logins: int = 0
    sessions_ended: int = 0  # sessions closed, cleanly or not
    # False: the connection drops at QUIT before the UPDATE state (a crash between recording
    # and deleting, as far as the client knows: its DELEs are lost)
    commit_on_quit: bool = True
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, raw: bytes) -> int:
        uid = self.next_uid
        self.next_uid += 1
        self.messages[uid] = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        return uid

    def note(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


@dataclass
class MailServer:
    host: str
    port: int
    store: MailStore


@asynccontextmanager
async def _serve(session: Callable[..., object], store: MailStore, *,
                 tls: ssl.SSLContext | None, starttls: ssl.SSLContext | None,
                 password: str) -> AsyncIterator[MailServer]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await session(reader, writer, store, starttls, password)  # type: ignore[misc]
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            store.sessions_ended += 1
            store.note()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield MailServer("127.0.0.1", port, store)
    finally:
        server.close()
        await server.wait_closed()


async def _line(reader: asyncio.StreamReader) -> str | None:
    data = await reader.readline()
    if not data:
        return None
    return data.decode("utf-8", errors="replace").rstrip("\r\n")


# --- POP3 (RFC 1939, RFC 2595's STLS) ------------------------------------------------------

@asynccontextmanager
async def start_pop3_server(store: MailStore, *, tls: ssl.SSLContext | None = None,
                            starttls: ssl.SSLContext | None = None,
                            password: str = PASSWORD) -> AsyncIterator[MailServer]:
    async with _serve(_pop3_session, store, tls=tls, starttls=starttls,
                      password=password) as server:
        yield server


async def _pop3_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        store: MailStore, starttls: ssl.SSLContext | None,
                        password: str) -> None:
    async def send(text: str) -> None:
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    async def multiline(first: str, body: bytes) -> None:
        lines = body.split(b"\r\n")
        if lines and lines[-1] == b"":
            lines.pop()
        stuffed = b"\r\n".join(b"." + x if x.startswith(b".") else x for x in lines)
        writer.write(first.encode() + b"\r\n" + stuffed + (b"\r\n" if lines else b"")
                     + b".\r\n")
        await writer.drain()

    await send("+OK test POP3 server ready")
    user: str | None = None
    authed = False
    view: list[int] = []  # message numbers (1-based) -> uids, fixed at login
    deleted: set[int] = set()
    while True:
        line = await _line(reader)
        if line is None:
            return  # a dropped connection: RFC 1939 deletes nothing
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb == "QUIT":
            if not store.commit_on_quit:
                return
            if authed:
                for number in deleted:
                    store.messages.pop(view[number - 1], None)
            await send("+OK bye")
            return
        if verb == "CAPA":
            caps = ["USER", "UIDL", "TOP"] + (["STLS"] if starttls and not authed else [])
            await multiline("+OK capabilities", "\r\n".join(caps).encode())
        elif verb == "STLS" and starttls is not None and not authed:
            await send("+OK begin TLS")
            await writer.start_tls(starttls)
            starttls = None
        elif verb == "USER" and not authed:
            user = arg
            await send("+OK user")
        elif verb == "PASS" and not authed:
            if user == USER and arg == password:
                authed = True
                store.logins += 1
                view = sorted(store.messages)
                await send("+OK logged in")
            else:
                store.failed_logins += 1
                await send("-ERR [AUTH] invalid user name or password")
        elif not authed:
            await send("-ERR not logged in")
        elif verb == "STAT":
            live = [n for n in range(1, len(view) + 1) if n not in deleted]
            size = sum(len(store.messages.get(view[n - 1], b"")) for n in live)
            await send(f"+OK {len(live)} {size}")
        elif verb in ("LIST", "UIDL") and not arg:
            rows = [f"{n} {_pop_value(verb, store, view[n - 1])}"
                    for n in range(1, len(view) + 1) if n not in deleted]
            await multiline("+OK listing", "\r\n".join(rows).encode())
        elif verb in ("RETR", "TOP", "DELE", "LIST", "UIDL"):
            parts = arg.split()
            try:
                number = int(parts[0])
                uid = view[number - 1]
                if number < 1 or number in deleted:
                    raise IndexError(number)
            except (ValueError, IndexError):
                await send("-ERR no such message")
                continue
            raw = store.messages.get(uid, b"")
            if verb == "RETR":
                await multiline(f"+OK {len(raw)} octets", raw)
            elif verb == "TOP":
                head, sep, body = raw.partition(b"\r\n\r\n")
                kept = b"\r\n".join(body.split(b"\r\n")[: int(parts[1])])
                await multiline("+OK top", head + sep + kept)
            elif verb == "DELE":
                deleted.add(number)
                await send(f"+OK message {number} deleted")
            elif verb == "LIST":
                await send(f"+OK {number} {len(raw)}")
            else:
                await send(f"+OK {number} {uid}")
        elif verb == "RSET":
            deleted.clear()
            await send("+OK")
        elif verb == "NOOP":
            await send("+OK")
        else:
            await send("-ERR unknown command")


def _pop_value(verb: str, store: MailStore, uid: int) -> int:
    return len(store.messages.get(uid, b"")) if verb == "LIST" else uid


# --- IMAP (RFC 3501) -----------------------------------------------------------------------

@asynccontextmanager
async def start_imap_server(store: MailStore, *, tls: ssl.SSLContext | None = None,
                            starttls: ssl.SSLContext | None = None,
                            password: str = PASSWORD,
                            folders: tuple[str, ...] = ("INBOX",)) -> AsyncIterator[MailServer]:
    """``folders``: the mailbox names SELECT accepts; all of them show ``store``."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      store: MailStore, starttls: ssl.SSLContext | None,
                      password: str) -> None:
        await _imap_session(reader, writer, store, starttls, password, folders)

    async with _serve(session, store, tls=tls, starttls=starttls, password=password) as server:
        yield server


_IMAP_ATOM = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_PARTIAL = re.compile(r"BODY\.PEEK\[\](?:<(\d+)\.(\d+)>)?", re.IGNORECASE)


def _imap_args(text: str) -> list[str]:
    return [m.group(1).replace('\\"', '"').replace("\\\\", "\\") if m.group(1) is not None
            else m.group(2) for m in _IMAP_ATOM.finditer(text)]


def _uid_set(spec: str, uids: list[int]) -> list[int]:
    wanted: set[int] = set()
    top = max(uids, default=0)
    for item in spec.split(","):
        low, _, high = item.partition(":")
        a = top if low == "*" else int(low)
        b = a if not high else (top if high == "*" else int(high))
        wanted.update(u for u in uids if min(a, b) <= u <= max(a, b))
    return sorted(wanted)


async def _imap_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        store: MailStore, starttls: ssl.SSLContext | None, password: str,
                        folders: tuple[str, ...]) -> None:
    async def send(text: str) -> None:
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    await send("* OK test IMAP4rev1 server ready")
    authed = False
    selected = False
    read_only = False
    flagged = store.flagged  # kept by the mailbox until expunged, as a real server does

    def capabilities() -> str:
        caps = "IMAP4rev1 AUTH=PLAIN"
        if starttls is not None and not authed:
            caps += " STARTTLS"
        return caps

    def expunge() -> list[int]:
        uids = sorted(store.messages)
        gone = [uids.index(u) + 1 for u in sorted(flagged) if u in store.messages]
        for uid in flagged:
            store.messages.pop(uid, None)
        flagged.clear()
        return sorted(gone, reverse=True)

    while True:
        line = await _line(reader)
        if line is None:
            return  # dropped: \Deleted flags stay unexpunged, as on a real server
        tag, _, rest = line.partition(" ")
        command, _, arg = rest.partition(" ")
        command = command.upper()
        if command == "LOGOUT":
            await send("* BYE logging out")
            await send(f"{tag} OK LOGOUT completed")
            return
        if command == "CAPABILITY":
            await send(f"* CAPABILITY {capabilities()}")
            await send(f"{tag} OK CAPABILITY completed")
        elif command == "NOOP":
            await send(f"{tag} OK NOOP completed")
        elif command == "STARTTLS" and starttls is not None and not authed:
            await send(f"{tag} OK begin TLS")
            await writer.start_tls(starttls)
            starttls = None
        elif command == "LOGIN" and not authed:
            args = _imap_args(arg)
            if len(args) == 2 and args[0] == USER and args[1] == password:
                authed = True
                store.logins += 1
                await send(f"{tag} OK LOGIN completed")
            else:
                store.failed_logins += 1
                await send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials")
        elif command == "AUTHENTICATE" and not authed:
            mechanism = arg.split()[0].upper() if arg else ""
            if mechanism != "PLAIN":
                await send(f"{tag} NO unsupported mechanism")
                continue
            await send("+ ")
            answer = await _line(reader)
            if answer is None:
                return
            try:
                _, user, secret = base64.b64decode(answer).decode().split("\0")
            except ValueError:
                user, secret = "", ""
            if user == USER and secret == password:
                authed = True
                store.logins += 1
                await send(f"{tag} OK AUTHENTICATE completed")
            else:
                store.failed_logins += 1
                await send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials")
        elif not authed:
            await send(f"{tag} NO not authenticated")
        elif command in ("SELECT", "EXAMINE"):
            args = _imap_args(arg)
            if not args or args[0] not in folders:
                await send(f"{tag} NO [NONEXISTENT] no such mailbox")
                continue
            selected, read_only = True, command == "EXAMINE"
            await send(f"* {len(store.messages)} EXISTS")
            await send("* 0 RECENT")
            await send("* FLAGS (\\Deleted \\Seen)")
            await send(f"* OK [UIDNEXT {store.next_uid}] next uid")
            await send("* OK [UIDVALIDITY 1] uids valid")
            mode = "READ-ONLY" if read_only else "READ-WRITE"
            await send(f"{tag} OK [{mode}] {command} completed")
        elif not selected:
            await send(f"{tag} BAD no mailbox selected")
        elif command == "UID":
            sub, _, params = arg.partition(" ")
            sub = sub.upper()
            uids = sorted(store.messages)
            if sub == "SEARCH":
                found = [u for u in uids if u not in flagged or "UNDELETED" not in params.upper()]
                await send("* SEARCH" + "".join(f" {u}" for u in found))
                await send(f"{tag} OK SEARCH completed")
            elif sub == "FETCH":
                spec, _, items = params.partition(" ")
                for uid in _uid_set(spec, uids):
                    raw = store.messages[uid]
                    seq = uids.index(uid) + 1
                    parts = [f"UID {uid}"]
                    if "RFC822.SIZE" in items.upper():
                        parts.append(f"RFC822.SIZE {len(raw)}")
                    body = _PARTIAL.search(items)
                    if body is None:
                        await send(f"* {seq} FETCH ({' '.join(parts)})")
                        continue
                    name = "BODY[]"
                    if body.group(1) is not None:
                        start, count = int(body.group(1)), int(body.group(2))
                        raw = raw[start:start + count]
                        name = f"BODY[]<{start}>"
                    writer.write(f"* {seq} FETCH ({' '.join(parts)} {name} {{{len(raw)}}}\r\n"
                                 .encode() + raw + b")\r\n")
                    await writer.drain()
                await send(f"{tag} OK FETCH completed")
            elif sub == "STORE":
                spec, _, change = params.partition(" ")
                if read_only:
                    await send(f"{tag} NO read-only mailbox")
                    continue
                if "\\DELETED" in change.upper():
                    for uid in _uid_set(spec, uids):
                        if change.startswith("-"):
                            flagged.discard(uid)
                        else:
                            flagged.add(uid)
                await send(f"{tag} OK STORE completed")
            else:
                await send(f"{tag} BAD unknown UID command")
        elif command == "EXPUNGE":
            for seq in expunge():
                await send(f"* {seq} EXPUNGE")
            await send(f"{tag} OK EXPUNGE completed")
        elif command == "CLOSE":
            if not read_only:
                expunge()
            selected = False
            await send(f"{tag} OK CLOSE completed")
        else:
            await send(f"{tag} BAD unknown command")


# --- bounces as MTAs send them -------------------------------------------------------------

@dataclass(frozen=True)
class Original:
    """The campaign message that bounced."""

    campaign_uuid: str
    subscriber_uuid: str
    recipient: str
    sender: str = "news@postlog.example"
    subject: str = "Our April newsletter"
    message_id: str = "<c.s@postlog.example>"
    body: str = "Hello! Our shop does not exist any more on Main street.\n"

    def headers(self) -> str:
        return (f"From: Newsletter <{self.sender}>\n"
                f"To: <{self.recipient}>\n"
                f"Subject: {self.subject}\n"
                f"Date: Tue, 02 Apr 2024 09:58:10 +0000\n"
                f"Message-Id: {self.message_id}\n"
                f"X-Listmonk-Campaign: {self.campaign_uuid}\n"
                f"X-Listmonk-Subscriber: {self.subscriber_uuid}\n"
                f"List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
                f"MIME-Version: 1.0\n"
                f"Content-Type: text/plain; charset=UTF-8\n")

    def message(self) -> str:
        return self.headers() + "\n" + self.body


def postfix_bounce(o: Original, *, status: str = "5.1.1", action: str = "failed",
                   message_id: str = "<20240402100012.4F1C2E0123@mx.postlog.example>",
                   diagnostic: str | None = None, returned: bytes | None = None) -> bytes:
    """Postfix's DSN (RFC 3464): text, delivery-status, the returned message (``returned``:
    the bytes of a message really sent, instead of ``o``'s)."""
    code = "550" if status.startswith("5") else "452"
    diagnostic = diagnostic or (
        f"smtp; {code} {status} <{o.recipient}>: Recipient address rejected: "
        "User unknown in virtual mailbox table" if status == "5.1.1" else
        f"smtp; {code} {status} <{o.recipient}>: Mailbox full, over quota")
    boundary = "4F1C2E0123.1712052012/mx.postlog.example"
    subject = ("Undelivered Mail Returned to Sender" if action == "failed"
               else "Delayed Mail (still being retried)")
    text = (f"This is the mail system at host mx.postlog.example.\n\n"
            f"I'm sorry to have to inform you that your message could not\n"
            f"be delivered to one or more recipients. It's attached below.\n\n"
            f"                   The mail system\n\n"
            f"<{o.recipient}>: host mx.example.org[192.0.2.10] said: "
            f"{diagnostic.removeprefix('smtp; ')} (in reply to RCPT TO command)\n")
    return (
        f"Return-Path: <>\n"
        f"Delivered-To: bounces@postlog.example\n"
        f"Received: by mx.postlog.example (Postfix) id 4F1C2E0123;\n"
        f"\tTue,  2 Apr 2024 10:00:12 +0000 (UTC)\n"
        f"Date: Tue,  2 Apr 2024 10:00:12 +0000 (UTC)\n"
        f"From: MAILER-DAEMON@mx.postlog.example (Mail Delivery System)\n"
        f"Subject: {subject}\n"
        f"To: bounces@postlog.example\n"
        f"Auto-Submitted: auto-replied\n"
        f"MIME-Version: 1.0\n"
        f"Content-Type: multipart/report; report-type=delivery-status;\n"
        f"\tboundary=\"{boundary}\"\n"
        f"Message-Id: {message_id}\n\n"
        f"This is a MIME-encapsulated message.\n\n"
        f"--{boundary}\n"
        f"Content-Description: Notification\n"
        f"Content-Type: text/plain; charset=us-ascii\n\n"
        f"{text}\n"
        f"--{boundary}\n"
        f"Content-Description: Delivery report\n"
        f"Content-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.postlog.example\n"
        f"X-Postfix-Queue-ID: 4F1C2E0123\n"
        f"X-Postfix-Sender: rfc822; bounces@postlog.example\n"
        f"Arrival-Date: Tue,  2 Apr 2024 09:58:10 +0000 (UTC)\n\n"
        f"Final-Recipient: rfc822; {o.recipient}\n"
        f"Original-Recipient: rfc822;{o.recipient}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        f"Remote-MTA: dns; mx.example.org\n"
        f"Diagnostic-Code: {diagnostic}\n\n"
        f"--{boundary}\n"
        f"Content-Description: Undelivered Message\n"
        f"Content-Type: message/rfc822\n\n"
    ).encode() + (returned.replace(b"\r\n", b"\n") if returned is not None
                  else o.message().encode()) + f"\n--{boundary}--\n".encode()


def exim_bounce(o: Original, *, message_id: str = "<E1rrXyZ-0003Qm-7A@mail.example.net>",
                permanent: bool = True) -> bytes:
    """Exim's plain-text bounce: X-Failed-Recipients, the original quoted after the report."""
    reply = ("550 Unrouteable address" if permanent
             else "452 Requested action not taken: insufficient system storage")
    error = ("This is a permanent error." if permanent
             else "This is a temporary error; the message will be retried.")
    return (
        f"Return-path: <>\n"
        f"Received: from Debian-exim by mail.example.net with local (Exim 4.96)\n"
        f"\tid 1rrXyZ-0003Qm-7A for bounces@postlog.example; Tue, 02 Apr 2024 10:01:02 +0000\n"
        f"X-Failed-Recipients: {o.recipient}\n"
        f"Auto-Submitted: auto-replied\n"
        f"From: Mail Delivery System <Mailer-Daemon@mail.example.net>\n"
        f"To: bounces@postlog.example\n"
        f"Content-Type: text/plain; charset=us-ascii\n"
        f"Subject: Mail delivery failed: returning message to sender\n"
        f"Message-Id: {message_id}\n"
        f"Date: Tue, 02 Apr 2024 10:01:02 +0000\n\n"
        f"This message was created automatically by mail delivery software.\n\n"
        f"A message that you sent could not be delivered to one or more of its\n"
        f"recipients. {error} The following address(es) failed:\n\n"
        f"  {o.recipient}\n"
        f"    host mx.example.org [192.0.2.10]\n"
        f"    SMTP error from remote mail server after RCPT TO:<{o.recipient}>:\n"
        f"    {reply}\n\n"
        f"------ This is a copy of the message, including all the headers. ------\n\n"
        f"Return-path: <bounces@postlog.example>\n"
        f"{o.message()}"
    ).encode()


def gmail_bounce(o: Original, *,
                 message_id: str = "<6619a1c4.5d0a0220.gmail.bounce@mx.google.com>") -> bytes:
    """Gmail's "Address not found": plain and HTML text, a DSN, the returned headers."""
    b1, b2 = "000000000000a1b2c3d4e5f60718", "000000000000a1b2c3d4e5f60719"
    html = ("<html><body><h2>Address not found</h2><p>Your message wasn't delivered to "
            f"<a style='color:#212121' href='mailto:{o.recipient}'>{o.recipient}</a> because "
            "the address couldn't be found, or is unable to receive mail.</p></body></html>")
    return (
        f"Delivered-To: bounces@postlog.example\n"
        f"Received: by 2002:a05:6a10:aa8e:b0:5c1:12f3:1a2b with SMTP id hq14csp1234567pxb;\n"
        f"        Tue, 2 Apr 2024 03:02:04 -0700 (PDT)\n"
        f"Return-Path: <>\n"
        f"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        f"To: bounces@postlog.example\n"
        f"Auto-Submitted: auto-replied\n"
        f"Subject: Delivery Status Notification (Failure)\n"
        f"References: {o.message_id}\n"
        f"In-Reply-To: {o.message_id}\n"
        f"X-Failed-Recipients: {o.recipient}\n"
        f"Message-ID: {message_id}\n"
        f"Date: Tue, 02 Apr 2024 03:02:04 -0700 (PDT)\n"
        f"MIME-Version: 1.0\n"
        f"Content-Type: multipart/report; boundary=\"{b1}\"; report-type=delivery-status\n\n"
        f"--{b1}\n"
        f"Content-Type: multipart/related; boundary=\"{b2}\"\n\n"
        f"--{b2}\n"
        f"Content-Type: text/html; charset=\"UTF-8\"\n\n"
        f"{html}\n"
        f"--{b2}--\n"
        f"--{b1}\n"
        f"Content-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; googlemail.com\n"
        f"Received-From-MTA: dns; news@postlog.example\n"
        f"Arrival-Date: Tue, 02 Apr 2024 03:02:03 -0700 (PDT)\n"
        f"X-Original-Message-ID: {o.message_id}\n\n"
        f"Final-Recipient: rfc822; {o.recipient}\n"
        f"Action: failed\n"
        f"Status: 5.1.1\n"
        f"Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not\n"
        f" exist. Please try\n"
        f" 550-5.1.1 double-checking the recipient's email address for typos or\n"
        f" 550-5.1.1 unnecessary spaces. For more information, go to\n"
        f" 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1-20020a170902\n"
        f"Last-Attempt-Date: Tue, 02 Apr 2024 03:02:04 -0700 (PDT)\n\n"
        f"--{b1}\n"
        f"Content-Type: text/rfc822-headers\n\n"
        f"{o.headers()}\n"
        f"--{b1}--\n"
    ).encode()


def arf_complaint(o: Original, *,
                  message_id: str = "<arf.1712052300.abuse@feedback.example.com>") -> bytes:
    """An ARF (RFC 5965) spam complaint from a mailbox provider's feedback loop."""
    boundary = "----=_Part_5312_1024.1712052300"
    return (
        f"Return-Path: <>\n"
        f"Received: from feedback.example.com by mx.postlog.example;\n"
        f"\tTue, 2 Apr 2024 10:05:00 +0000\n"
        f"From: Feedback Loop <feedbackloop@feedback.example.com>\n"
        f"To: abuse@postlog.example\n"
        f"Subject: FW: {o.subject}\n"
        f"Message-ID: {message_id}\n"
        f"Date: Tue, 2 Apr 2024 10:05:00 +0000\n"
        f"MIME-Version: 1.0\n"
        f"Content-Type: multipart/report; report-type=feedback-report;\n"
        f"\tboundary=\"{boundary}\"\n\n"
        f"--{boundary}\n"
        f"Content-Type: text/plain; charset=\"US-ASCII\"\n"
        f"Content-Transfer-Encoding: 7bit\n\n"
        f"This is an email abuse report for an email message received from IP\n"
        f"198.51.100.7 on Tue, 2 Apr 2024 09:58:11 +0000. The user marked it as spam.\n\n"
        f"--{boundary}\n"
        f"Content-Type: message/feedback-report\n\n"
        f"Feedback-Type: abuse\n"
        f"User-Agent: ExampleFBL/1.0\n"
        f"Version: 1\n"
        f"Original-Mail-From: <bounces@postlog.example>\n"
        f"Original-Rcpt-To: <{o.recipient}>\n"
        f"Arrival-Date: Tue, 2 Apr 2024 09:58:11 +0000\n"
        f"Source-IP: 198.51.100.7\n"
        f"Reported-Domain: postlog.example\n\n"
        f"--{boundary}\n"
        f"Content-Type: message/rfc822\n"
        f"Content-Disposition: inline\n\n"
        f"{o.message()}\n"
        f"--{boundary}--\n"
    ).encode()


def not_a_bounce(message_id: str = "<vacation.1@example.org>") -> bytes:
    """An out-of-office reply: nobody to record a bounce for."""
    return (f"From: Someone <someone@example.org>\nTo: bounces@postlog.example\n"
            f"Subject: Out of office\nMessage-ID: {message_id}\n"
            f"Date: Tue, 2 Apr 2024 10:07:00 +0000\n\n"
            f"I am away until Monday.\n").encode()
