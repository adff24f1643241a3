"""RFC 5322 / MIME e-mails from rendered messages, shaped like the ones listmonk sends.

listmonk hands its messages to smtppool, which writes: the custom headers (first value of
each name), with ``From``, ``To``, ``Cc``, ``Reply-To``, ``Subject``, ``Date``, ``Message-Id``
and ``MIME-Version`` filled in unless a custom header gave them; ``Return-Path`` becomes the
envelope sender and ``Bcc`` envelope recipients (neither is written); the body is
``text/plain`` for plain messages, else ``text/html`` alone, or with the plain-text
alternative first in a ``multipart/alternative`` when the message has an alt body (a
campaign's ``altbody``, a tx request's ``altbody``: nothing is derived from the HTML, as in
listmonk), inside ``multipart/mixed`` when files are attached. This
module builds the same structure with ``email.message.EmailMessage`` under
``email.policy.SMTP`` (CRLF, folded headers, RFC 2047 encoded words, quoted-printable UTF-8
text parts, base64 attachments).

Differences from listmonk, on purpose:
- header text is treated as hostile (a template can put a subscriber's name in a subject, a
  display name or a custom header): every character that any parser may take for a line
  break (CR, LF, VT, FF, FS, GS, RS, NEL, U+2028, U+2029) becomes a space, other control
  characters are removed, a custom header whose name is not an RFC 5322 field name is
  dropped, and each header's wire form is checked (CRLF line ends, continuation lines
  starting with white space, printable ASCII only) before it is written, falling back to
  RFC 2047 encoded words when the ``email`` package cannot fold a value so; a header can
  therefore never end early, start another header or the body, and no string makes
  ``build_mime`` or ``Mail.as_bytes`` raise (rules in ``services.sender.headers``);
- ``Message-Id`` is made from the queued message's id when given, so a retried delivery keeps
  the same id (listmonk draws a random one per attempt).
"""

from __future__ import annotations

import binascii
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import structlog

from events.message_storage import AttachmentFile
from events.messages import MessageContent
from services.sender.headers import (
    MAX_LINE,
    clean_header_value,
    encoded_words_field,
    is_field_name,
    is_safe_field,
)
from services.sender.rendering import CompiledCampaign, render_campaign
from services.sender.templating.data import CampaignMessage

# Headers that describe the MIME structure: postlog writes them, custom values are ignored.
_STRUCTURE = frozenset({"Content-Type", "Content-Transfer-Encoding", "Mime-Version"})
# Headers that only steer the SMTP envelope and are not written into the message.
_ENVELOPE_ONLY = frozenset({"Return-Path", "Bcc"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

log = structlog.get_logger(__name__)


class _CachedHeaderRegistry(HeaderRegistry):
    """The standard header classes, made once per name (the stock registry builds a new
    class for every header it parses, the main cost of ``EmailMessage`` headers)."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


if TYPE_CHECKING:
    _PolicyBase = EmailPolicy[EmailMessage]
else:
    _PolicyBase = EmailPolicy


class SenderPolicy(_PolicyBase):
    """``email.policy.SMTP`` that cannot write a header that ends early or starts another.

    Every value stored is cleaned first (``clean_header_value``: one line, no control
    characters). Clean ASCII values are then kept as given, like headers read from a parsed
    message: written unchanged when they fit a line, parsed and folded only otherwise — the
    fast path, since parsing is the main cost of ``EmailMessage`` headers. Non-ASCII values are
    parsed at once (for encoded words), and so are the ``Content-*`` headers, which the
    library itself reads back many times. Every header written is checked with
    ``is_safe_field``; one the ``email`` package fails to fold (it raises on some malformed
    address lists) or folds unsafely is written as encoded words, and one with an invalid
    name is not written at all."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if not isinstance(value, str) or hasattr(value, "name"):
            return super().header_store_parse(name, value)
        value = clean_header_value(value)
        if value.isascii() and not name.lower().startswith("content-"):
            return (name, value)
        try:
            return (name, self.header_factory(name, value))
        except Exception:  # a malformed structured value: kept as text, folded safely later
            return (name, value)

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name"):
            return value
        try:
            return super().header_fetch_parse(name, value)
        except Exception:  # as above: read back as the text it was stored as
            return value

    def fold(self, name: str, value: Any) -> str:
        return self._safe_fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        return self._safe_fold(name, value).encode("ascii")

    def _safe_fold(self, name: str, value: Any) -> str:
        if not is_field_name(name):
            log.debug("mail_header_dropped", reason="invalid name", header=name[:80])
            return ""
        printable = type(value) is str and value.isascii() and value.isprintable() \
            and self.refold_source != "all"
        length = len(name) + 2 + len(value)
        if printable and (length <= (self.max_line_length or sys.maxsize) or (
                length <= MAX_LINE and " " not in value and "\t" not in value)):
            # Safe as it is: short, or with no white space to fold at (a List-Unsubscribe
            # URL), which the email package would turn into encoded words.
            return f"{name}: {value}{self.linesep}"
        folded: str
        try:
            folded = super().fold(name, value)
        except Exception:  # the email package raises on some malformed structured values
            folded = ""
        if printable and length <= MAX_LINE and "=?" in folded and "=?" not in value:
            folded = f"{name}: {value}{self.linesep}"  # plain ASCII needs no encoded words
        if is_safe_field(folded, self.linesep):
            return folded
        folded = encoded_words_field(name, str(value), self.linesep)
        if is_safe_field(folded, self.linesep):
            return folded
        log.debug("mail_header_dropped", reason="name too long for a line", header=name[:80])
        return ""


SMTP = SenderPolicy(linesep="\r\n", header_factory=_CachedHeaderRegistry())
"""The policy messages are built and serialised with."""


def canonical_header(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``x-custom-id`` -> ``X-Custom-Id``; a name
    that is not an RFC 7230 token is kept as it is."""
    if not _TOKEN.fullmatch(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def first_values(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The first value of each header name (canonical names, in first-seen order), as
    listmonk's messenger keeps ``v[0]`` of each; values cleaned (``clean_header_value``),
    names that are not RFC 5322 field names (after trimming spaces and tabs) dropped."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = canonical_header(name.strip(" \t"))
        if not is_field_name(key):
            log.debug("mail_header_dropped", reason="invalid name", header=key[:80])
        elif key not in out:
            out[key] = clean_header_value(value)
    return out


class Mail:
    """A message ready for SMTP: envelope sender, envelope recipients and the e-mail.

    ``build_mime`` writes most messages straight to bytes; ``message`` is then built as an
    ``EmailMessage`` the first time it is asked for (the same e-mail: headers, structure and
    content; another boundary), and from then on ``as_bytes`` serialises that object, with
    any change made to it."""

    __slots__ = ("_build", "_data", "_message", "envelope_from", "policy", "recipients")

    def __init__(self, envelope_from: str, recipients: list[str],
                 message: EmailMessage | None = None,
                 policy: EmailPolicy[EmailMessage] = SMTP, *, data: bytes | None = None,
                 build: Callable[[], EmailMessage] | None = None) -> None:
        if message is None and (data is None or build is None):
            raise ValueError("a Mail needs its message, or its bytes and how to build it")
        self.envelope_from = envelope_from
        self.recipients = recipients
        self.policy = policy
        self._message = message
        self._data = data
        self._build = build

    def __repr__(self) -> str:
        return f"Mail(envelope_from={self.envelope_from!r}, recipients={self.recipients!r})"

    @property
    def message(self) -> EmailMessage:
        """The e-mail as an ``EmailMessage``."""
        if self._message is None:
            assert self._build is not None
            self._message = self._build()
            self._data = None
        return self._message

    def as_bytes(self) -> bytes:
        """The message as sent on the wire (CRLF line ends)."""
        if self._data is not None:
            return self._data
        return self.message.as_bytes(policy=self.policy)


@lru_cache(maxsize=1024)
def _address_list(value: str) -> tuple[str, ...]:
    return tuple(addr for _, addr in getaddresses([value]) if addr)


def _addresses(value: str) -> list[str]:
    return list(_address_list(value)) if value else []


@lru_cache(maxsize=1024)
def _domain(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] if "@" in addr else "localhost"


_date_cache: tuple[int, str] = (-1, "")


def _date_now() -> str:
    """``format_datetime`` of now, made once a second (the header has whole seconds)."""
    global _date_cache
    second = int(time.time())
    if _date_cache[0] != second:
        _date_cache = (second, format_datetime(datetime.fromtimestamp(second, UTC)))
    return _date_cache[1]


def build_mime(content: MessageContent, *, from_email: str, content_type: str = "html",
               attachments: Sequence[AttachmentFile] = (), message_id: str | None = None,
               date: datetime | None = None,
               policy: EmailPolicy[EmailMessage] = SMTP) -> Mail:
    """The e-mail for a rendered message (``content_type`` ``plain`` means text only).

    Written straight to bytes (``_write_mail``) when it can be: the default policy, no
    attachments, no custom ``Content-*`` header; else through ``EmailMessage``. Both give
    the same headers (the same bytes: each header line is the policy's own fold), the same
    structure and the same content; the straight path encodes quoted-printable with
    ``binascii`` (lines of at most 76 characters, as RFC 2045 asks)."""
    custom = first_values(content.headers)
    headers: list[tuple[str, str]] = []
    sender = custom.pop("From", clean_header_value(from_email))
    headers.append(("From", sender))
    headers.append(("To", custom.pop("To", clean_header_value(", ".join(content.to)))))
    cc = custom.pop("Cc", "")
    if cc:
        headers.append(("Cc", cc))
    reply_to = custom.pop("Reply-To", "")
    if reply_to:
        headers.append(("Reply-To", reply_to))
    subject = custom.pop("Subject", clean_header_value(content.subject))
    if subject:
        headers.append(("Subject", subject))
    headers.append(("Date", custom.pop("Date", "") or (
        format_datetime(date) if date is not None else _date_now())))
    headers.append(("Message-Id", custom.pop("Message-Id", "") or (
        f"<{message_id}@{_domain(sender)}>" if message_id else make_msgid(domain=_domain(sender)))))
    return_path = custom.get("Return-Path", "")
    bcc = custom.get("Bcc", "")
    straight = policy is SMTP and not attachments
    for name, value in custom.items():
        if name not in _STRUCTURE and name not in _ENVELOPE_ONLY:
            headers.append((name, value))
            if name.lower().startswith("content-"):  # dropped by set_content: rare, slow path
                straight = False
    text = "" if content_type == "plain" else content.altbody or ""
    envelope_from = (_addresses(return_path) or _addresses(sender) or [""])[0]
    recipients = list(dict.fromkeys(
        [*content.to, *_addresses(cc), *_addresses(bcc)]))

    def build() -> EmailMessage:
        return _email_message(headers, content, content_type, text, attachments, policy)

    if straight:
        return Mail(envelope_from, recipients, policy=policy, build=build,
                    data=_write_mail(headers, content.body, content_type, text))
    return Mail(envelope_from, recipients, build(), policy)


def _email_message(headers: Sequence[tuple[str, str]], content: MessageContent,
                   content_type: str, text: str, attachments: Sequence[AttachmentFile],
                   policy: EmailPolicy[EmailMessage]) -> EmailMessage:
    msg = EmailMessage(policy=policy)
    for name, value in headers:
        msg[name] = value
    _set_body(msg, content, content_type, text)
    for f in attachments:
        maintype, _, subtype = (f.content_type or "application/octet-stream").partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(f.content, maintype=maintype, subtype=subtype, filename=f.name)
    _finish_parts(msg)
    return msg


def _finish_parts(msg: EmailMessage) -> None:
    """``MIME-Version`` on the message only (EmailMessage adds it to every part), and
    multipart boundaries starting ``=_``, which quoted-printable and base64 bodies (all the
    parts here) can never contain, so the generator need not search the parts for them."""
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]
        if part.is_multipart():
            part.set_boundary(_boundary())


def _boundary() -> str:
    return f"=_{os.urandom(16).hex()}"


def _set_body(msg: EmailMessage, content: MessageContent, content_type: str,
              text: str) -> None:
    if content_type == "plain":
        msg.set_content(content.body, subtype="plain", charset="utf-8", cte="quoted-printable")
    elif text:
        msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
        msg.add_alternative(content.body, subtype="html", charset="utf-8",
                            cte="quoted-printable")
    else:
        msg.set_content(content.body, subtype="html", charset="utf-8", cte="quoted-printable")


# --- the straight path: the bytes ``EmailMessage`` + ``SMTP`` would write, without them -------

_HEADER_LINES: dict[tuple[str, str], bytes] = {}
_HEADER_LINES_MAX = 4096
_MIME_VERSION = b"MIME-Version: 1.0\r\n"
_QP = b"Content-Transfer-Encoding: quoted-printable\r\n"
_TEXT_PART = b'Content-Type: text/plain; charset="utf-8"\r\n' + _QP
_HTML_PART = b'Content-Type: text/html; charset="utf-8"\r\n' + _QP


def header_line(name: str, value: str) -> bytes:
    """``name: value`` as ``msg[name] = value`` under ``SMTP`` writes it (stored, then
    folded by ``SenderPolicy``), remembered: a campaign's headers are mostly the same for
    every message, and a folded or encoded one costs far more than a look-up."""
    key = (name, value)
    line = _HEADER_LINES.get(key)
    if line is None:
        line = SMTP.fold_binary(name, SMTP.header_store_parse(name, value)[1])
        if line:  # a header that is not written is logged each time
            if len(_HEADER_LINES) >= _HEADER_LINES_MAX:
                _HEADER_LINES.clear()
            _HEADER_LINES[key] = line
    return line


def quoted_printable(text: str) -> bytes:
    """``text`` in UTF-8 as a quoted-printable body with CRLF line ends (``\\r``, ``\\n`` and
    ``\\r\\n`` end a line, as for ``set_content``; the last line ends too)."""
    lines = text.encode("utf-8").splitlines()
    return binascii.b2a_qp(b"\r\n".join(lines) + b"\r\n", istext=True)


def _write_mail(headers: Sequence[tuple[str, str]], body: str, content_type: str,
                text: str) -> bytes:
    head = b"".join([header_line(name, value) for name, value in headers])
    if content_type == "plain":
        return b"".join((head, _TEXT_PART, _MIME_VERSION, b"\r\n", quoted_printable(body)))
    if not text:
        return b"".join((head, _HTML_PART, _MIME_VERSION, b"\r\n", quoted_printable(body)))
    boundary = _boundary().encode("ascii")
    return b"".join((
        head, _MIME_VERSION, b'Content-Type: multipart/alternative;\r\n boundary="', boundary,
        b'"\r\n\r\n--', boundary, b"\r\n", _TEXT_PART, b"\r\n", quoted_printable(text),
        b"\r\n--", boundary, b"\r\n", _HTML_PART, b"\r\n", quoted_printable(body),
        b"\r\n--", boundary, b"--\r\n"))


def campaign_mail(compiled: CompiledCampaign, message: CampaignMessage, *,
                  attachments: Sequence[AttachmentFile] = (), message_id: str | None = None,
                  date: datetime | None = None) -> Mail:
    """The e-mail of a compiled campaign for ``message.Subscriber`` (render + MIME)."""
    return build_mime(render_campaign(compiled, message), from_email=compiled.from_email,
                      content_type=compiled.content_type, attachments=attachments,
                      message_id=message_id, date=date)
