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
- line breaks in header values (which a template can produce from subscriber data) become
  spaces, so a rendered header can never inject another header;
- ``Message-Id`` is made from the queued message's id when given, so a retried delivery keeps
  the same id (listmonk draws a random one per attempt).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

from events.message_storage import AttachmentFile
from events.messages import MessageContent
from services.sender.rendering import CompiledCampaign, render_campaign
from services.sender.templating import html_to_text
from services.sender.templating.data import CampaignMessage

# Headers that describe the MIME structure: postlog writes them, custom values are ignored.
_STRUCTURE = frozenset({"Content-Type", "Content-Transfer-Encoding", "Mime-Version"})
# Headers that only steer the SMTP envelope and are not written into the message.
_ENVELOPE_ONLY = frozenset({"Return-Path", "Bcc"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


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
    """``email.policy.SMTP`` that stores one-line ASCII header values as given, like headers
    read from a parsed message: they are written unchanged when they fit a line and parsed
    and folded only otherwise. Non-ASCII values are parsed at once (for encoded words), and so
    are the ``Content-*`` headers, which the library itself reads back many times."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if isinstance(value, str) and value.isascii() and "\n" not in value \
                and "\r" not in value and not name.lower().startswith("content-"):
            return (name, value)
        return super().header_store_parse(name, value)


SMTP = SenderPolicy(linesep="\r\n", header_factory=_CachedHeaderRegistry())
"""The policy messages are built and serialised with."""


def canonical_header(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``x-custom-id`` -> ``X-Custom-Id``; a name
    that is not an RFC 7230 token is kept as it is."""
    if not _TOKEN.fullmatch(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _one_line(value: str) -> str:
    return _LINE_BREAKS.sub(" ", value)


def first_values(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The first value of each header name (canonical names, in first-seen order), as
    listmonk's messenger keeps ``v[0]`` of each."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = canonical_header(name.strip())
        if key and key not in out:
            out[key] = _one_line(value)
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
    sender = custom.pop("From", _one_line(from_email))
    msg["From"] = sender
    to = custom.pop("To", ", ".join(content.to))
    msg["To"] = to
    cc = custom.pop("Cc", "")
    if cc:
        msg["Cc"] = cc
    reply_to = custom.pop("Reply-To", "")
    if reply_to:
        msg["Reply-To"] = reply_to
    subject = custom.pop("Subject", _one_line(content.subject))
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
