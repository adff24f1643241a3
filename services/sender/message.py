"""RFC 5322 / MIME e-mails from rendered messages, shaped like the ones listmonk sends.

listmonk hands its messages to smtppool, which writes: the custom headers (first value of
each name), with ``From``, ``To``, ``Cc``, ``Reply-To``, ``Subject``, ``Date``, ``Message-Id``
and ``MIME-Version`` filled in unless a custom header gave them; ``Return-Path`` becomes the
envelope sender and ``Bcc`` envelope recipients (neither is written); the body is
``text/plain`` for plain messages, else ``text/html`` with the plain-text alternative first
in a ``multipart/alternative``, inside ``multipart/mixed`` when files are attached. This
module builds the same structure with ``email.message.EmailMessage`` under
``email.policy.SMTP`` (CRLF, folded headers, RFC 2047 encoded words, quoted-printable UTF-8
text parts, base64 attachments).

Differences from listmonk, on purpose:
- an HTML message without an alt body gets one derived with ``html_to_text`` (listmonk sends
  HTML alone); pass ``derive_altbody=False`` for listmonk's behaviour;
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

import re
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

import structlog

from events.message_storage import AttachmentFile
from events.messages import MessageContent
from services.sender.headers import (
    clean_header_value,
    encoded_words_field,
    is_field_name,
    is_safe_field,
)
from services.sender.rendering import CompiledCampaign, render_campaign
from services.sender.templating import html_to_text
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
            log.debug("mail_header_dropped", reason="invalid name", name=name[:80])
            return ""
        if type(value) is str and value.isascii() and value.isprintable() \
                and len(name) + 2 + len(value) <= (self.max_line_length or sys.maxsize) \
                and self.refold_source != "all":
            return f"{name}: {value}{self.linesep}"  # the fast path: safe as it is
        folded: str
        try:
            folded = super().fold(name, value)
        except Exception:  # the email package raises on some malformed structured values
            folded = ""
        if is_safe_field(folded, self.linesep):
            return folded
        folded = encoded_words_field(name, str(value), self.linesep)
        if is_safe_field(folded, self.linesep):
            return folded
        log.debug("mail_header_dropped", reason="name too long for a line", name=name[:80])
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
            log.debug("mail_header_dropped", reason="invalid name", name=key[:80])
        elif key not in out:
            out[key] = clean_header_value(value)
    return out


@dataclass(frozen=True)
class Mail:
    """A message ready for SMTP: envelope sender, envelope recipients and the e-mail."""

    envelope_from: str
    recipients: list[str]
    message: EmailMessage = field(repr=False)
    policy: EmailPolicy[EmailMessage] = field(default=SMTP, repr=False)

    def as_bytes(self) -> bytes:
        """The message as sent on the wire (CRLF line ends)."""
        return self.message.as_bytes(policy=self.policy)


def _addresses(value: str) -> list[str]:
    return [addr for _, addr in getaddresses([value]) if addr]


def _domain(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] if "@" in addr else "localhost"


def build_mime(content: MessageContent, *, from_email: str, content_type: str = "html",
               attachments: Sequence[AttachmentFile] = (), message_id: str | None = None,
               date: datetime | None = None, derive_altbody: bool = True,
               policy: EmailPolicy[EmailMessage] = SMTP) -> Mail:
    """The e-mail for a rendered message (``content_type`` ``plain`` means text only)."""
    custom = first_values(content.headers)
    msg = EmailMessage(policy=policy)
    sender = custom.pop("From", clean_header_value(from_email))
    msg["From"] = sender
    to = custom.pop("To", clean_header_value(", ".join(content.to)))
    msg["To"] = to
    cc = custom.pop("Cc", "")
    if cc:
        msg["Cc"] = cc
    reply_to = custom.pop("Reply-To", "")
    if reply_to:
        msg["Reply-To"] = reply_to
    subject = custom.pop("Subject", clean_header_value(content.subject))
    if subject:
        msg["Subject"] = subject
    msg["Date"] = custom.pop("Date", "") or format_datetime(date or datetime.now(UTC))
    msg["Message-Id"] = custom.pop("Message-Id", "") or (
        f"<{message_id}@{_domain(sender)}>" if message_id else make_msgid(domain=_domain(sender)))
    return_path = custom.get("Return-Path", "")
    bcc = custom.get("Bcc", "")
    for name, value in custom.items():
        if name not in _STRUCTURE and name not in _ENVELOPE_ONLY:
            msg[name] = value
    _set_body(msg, content, content_type, derive_altbody)
    for f in attachments:
        maintype, _, subtype = (f.content_type or "application/octet-stream").partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(f.content, maintype=maintype, subtype=subtype, filename=f.name)
    _finish_parts(msg)
    envelope_from = (_addresses(return_path) or _addresses(sender) or [""])[0]
    recipients = list(dict.fromkeys(
        [*content.to, *_addresses(cc), *_addresses(bcc)]))
    return Mail(envelope_from=envelope_from, recipients=recipients, message=msg, policy=policy)


def _finish_parts(msg: EmailMessage) -> None:
    """``MIME-Version`` on the message only (EmailMessage adds it to every part), and
    multipart boundaries starting ``=_``, which quoted-printable and base64 bodies (all the
    parts here) can never contain, so the generator need not search the parts for them."""
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]
        if part.is_multipart():
            part.set_boundary(f"=_{uuid.uuid4().hex}")


def _set_body(msg: EmailMessage, content: MessageContent, content_type: str,
              derive_altbody: bool) -> None:
    if content_type == "plain":
        msg.set_content(content.body, subtype="plain", charset="utf-8", cte="quoted-printable")
        return
    text = content.altbody or (html_to_text(content.body) if derive_altbody else "")
    if text:
        msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
        msg.add_alternative(content.body, subtype="html", charset="utf-8",
                            cte="quoted-printable")
    else:
        msg.set_content(content.body, subtype="html", charset="utf-8", cte="quoted-printable")


def campaign_mail(compiled: CompiledCampaign, message: CampaignMessage, *,
                  attachments: Sequence[AttachmentFile] = (), message_id: str | None = None,
                  date: datetime | None = None, derive_altbody: bool = True) -> Mail:
    """The e-mail of a compiled campaign for ``message.Subscriber`` (render + MIME)."""
    return build_mime(render_campaign(compiled, message), from_email=compiled.from_email,
                      content_type=compiled.content_type, attachments=attachments,
                      message_id=message_id, date=date, derive_altbody=derive_altbody)
