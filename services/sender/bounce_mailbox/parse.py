"""Reading one message of a bounce mailbox: which campaign and subscriber it is about, and
whether it is a hard bounce, a soft bounce or a complaint. Pure: bytes in, ``ReadBounce`` out;
never raises on any input (a message that cannot be read is a soft bounce of nobody).

Where the ids come from. Every campaign message carries ``X-Listmonk-Campaign`` and
``X-Listmonk-Subscriber`` (uuids). A bounce returns the original message, or its headers: a
``message/rfc822`` part (RFC 3464 DSNs, ARF complaints), a ``text/rfc822-headers`` part, or the
message quoted as text after the report (Exim, qmail). The headers of a returned message are
looked at first; then the first ``X-Listmonk-...: <uuid>`` line anywhere in the message (its
decoded parts included), as listmonk does with its regexes.

How it is classified (listmonk's rule, with DSN fields read as fields):
- an ARF report (``message/feedback-report``, RFC 5965) is a **complaint**;
- the first ``Status:`` of a failed or delayed recipient in a ``message/delivery-status`` part:
  ``5.x.x`` **hard**, ``4.x.x`` **soft**;
- otherwise the first enhanced status code in the report's own text (``550 5.1.1``,
  ``550-5.1.1``, ``Status: 4.2.2``), then a bare SMTP reply code where MTAs print one
  (``550 Unrouteable address``, ``said: 452 ...``): 5xx hard, 4xx soft;
- otherwise phrases that mean a permanent failure (``user unknown``, ``no such user``, ``does
  not exist``...) make it **hard**; anything else is **soft** (listmonk's default).
The returned original message is never classified: a newsletter that says "does not exist"
must not make its own bounce hard.

``meta`` is listmonk's mailbox meta (``from``, ``subject``, ``message_id``, ``delivered_to``,
``received``, ``classify_reason``) plus ``diagnostic_code`` (DSN) or ``feedback_type`` (ARF):
one-line texts without control characters, each at most ``TEXT_MAX`` characters. It may quote
the subscriber's address; the intake seals it with the subscriber's key.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from typing import Any

from services.sender.bounce_mailbox.report import BounceKind

CAMPAIGN_HEADER = "X-Listmonk-Campaign"
SUBSCRIBER_HEADER = "X-Listmonk-Subscriber"
TEXT_MAX = 500  # characters of one meta text
RECEIVED_MAX = 10  # Received headers kept in meta
EMAIL_MAX = 254  # RFC 5321's path limit
KEY_PREFIX = "mailbox-bounce:"

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_HEADER_LINE = {
    name: re.compile(rf"(?im)^{name}:[ \t]*<?({_UUID})\b")
    for name in (CAMPAIGN_HEADER, SUBSCRIBER_HEADER)
}
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_SPACES = re.compile(r"\s{2,}")
_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# An enhanced status code where reports print one: at a line's start (``Status: 5.1.1``,
# ``5.1.1 <a@b>: ...``) or after an SMTP reply code (``550 5.1.1``, ``550-5.1.1``, ``550 #5.1.1``).
_TEXT_STATUS = re.compile(
    r"(?im)(?:^[ \t]*(?:status:[ \t]*)?|\b[45]\d\d[ \t]*[- ][ \t]*#?)"
    r"([45])\.(\d{1,3})\.(\d{1,3})\b")
# A bare SMTP reply code: at a line's start, or after the words MTAs put before one.
_TEXT_REPLY = re.compile(
    r"(?im)(?:^[ \t]*|said:[ \t]*|server after [^:\n]*:[ \t]*|remote host[^:\n]*:[ \t]*)"
    r"([45])(\d\d)(?:[ \t]|-(?=\S))")
_HARD_WORDS = re.compile(
    r"(?i)\b(user unknown|unknown user|no such user|no such recipient|no such mailbox|"
    r"mailbox not found|mailbox unavailable|address not found|recipient not found|"
    r"invalid recipient|recipient address rejected|unrouteable address|"
    r"does not exist|doesn't exist|account (?:has been )?disabled|account is disabled|"
    r"address (?:is )?disabled|host not found|domain not found|nxdomain|"
    r"permanent (?:error|failure)|permanently rejected)\b")
_QUOTED_ORIGINAL = re.compile(
    r"(?im)^[ \t]*(?:-{2,}.*(?:copy of the message|original message|message headers|"
    r"returned message|below this line)|[-=]{2,}\s*original message\s*[-=]{2,})")
_TAGS = re.compile(r"<[^>]*>")
_ADDRESS = re.compile(r"^[^\s@<>]+@[^\s@<>]+$")


@dataclass(frozen=True)
class ReadBounce:
    """What one bounce message says. ``recipient`` is the address the report names ("" when
    none); ``date`` the bounce's own ``Date`` (``None`` when missing or unreadable)."""

    kind: BounceKind
    reason: str
    key: str
    campaign_uuid: str = ""
    subscriber_uuid: str = ""
    recipient: str = ""
    message_id: str = ""
    date: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def attributable(self) -> bool:
        """Whether the bounce names someone to record it for."""
        return bool(self.subscriber_uuid or self.recipient)


@dataclass
class _Walk:
    """The parts of a message, sorted by what they are."""

    report_text: list[str] = field(default_factory=list)  # the report's own text parts
    html_text: list[str] = field(default_factory=list)  # its HTML parts, tags removed
    status_blocks: list[dict[str, str]] = field(default_factory=list)  # DSN per-recipient
    feedback: dict[str, str] | None = None  # the ARF report's fields
    originals: list[Message] = field(default_factory=list)  # returned messages (or headers)
    decoded: list[str] = field(default_factory=list)  # every decoded leaf, for the fallback


def read_bounce(raw: bytes) -> ReadBounce:
    """Read one mailbox message (never raises)."""
    try:
        return _read(raw)
    except Exception as exc:  # a parser bug must not stop the scan of a whole mailbox
        return ReadBounce(kind="soft", reason=clean(f"unreadable: {type(exc).__name__}"),
                          key=message_key("", raw))


def _read(raw: bytes) -> ReadBounce:
    msg = message_from_bytes(raw, policy=compat32)
    walk = _Walk()
    _visit(msg, walk, top=True)
    message_id = _header(msg, "Message-ID")
    campaign = _listmonk_id(CAMPAIGN_HEADER, walk, raw)
    subscriber = _listmonk_id(SUBSCRIBER_HEADER, walk, raw)
    kind, reason = classify(walk)
    recipient = _recipient(msg, walk)
    meta: dict[str, Any] = {
        "from": _header(msg, "From"),
        "subject": _header(msg, "Subject"),
        "message_id": message_id,
        "delivered_to": _header(msg, "Delivered-To"),
        "received": [clean(str(v)) for v in (msg.get_all("Received") or [])[:RECEIVED_MAX]],
        "classify_reason": reason,
    }
    diagnostic = next((b["diagnostic-code"] for b in walk.status_blocks
                       if b.get("diagnostic-code")), "")
    if diagnostic:
        meta["diagnostic_code"] = clean(diagnostic)
    if walk.feedback is not None:
        meta["feedback_type"] = clean(walk.feedback.get("feedback-type", ""))
    return ReadBounce(kind=kind, reason=reason, key=message_key(message_id, raw),
                      campaign_uuid=campaign, subscriber_uuid=subscriber, recipient=recipient,
                      message_id=message_id, date=_date(msg), meta=meta)


def message_key(message_id: str, raw: bytes) -> str:
    """The report's idempotency key: a digest of the Message-ID, or of the bytes without one."""
    basis = f"id:{message_id}".encode() if message_id else b"raw:" + raw
    return KEY_PREFIX + hashlib.sha256(basis).hexdigest()[:40]


def classify(walk: _Walk) -> tuple[BounceKind, str]:
    """Complaint, hard or soft, and why (listmonk's ``classify_reason`` style)."""
    if walk.feedback is not None:
        return "complaint", clean(f"feedback_type={walk.feedback.get('feedback-type', '')}")
    for block in walk.status_blocks:
        action = block.get("action", "").strip().lower()
        if action not in ("", "failed", "delayed"):
            continue  # delivered, relayed, expanded: not a failure
        found = _STATUS.match(block.get("status", ""))
        if found and found.group(1) in "45":
            return _by_class(found.group(1), "smtp_status=" + ".".join(found.groups()))
    own = walk.report_text or walk.html_text  # HTML only when there is no plain text
    text = "\n".join(own + [b.get("diagnostic-code", "") for b in walk.status_blocks])
    found = _TEXT_STATUS.search(text)
    if found:
        return _by_class(found.group(1), "smtp_status=" + ".".join(found.groups()))
    reply = _TEXT_REPLY.search(text)
    if reply:
        return _by_class(reply.group(1), f"smtp_code={reply.group(1)}{reply.group(2)}")
    words = _HARD_WORDS.search(text)
    if words:
        return "hard", clean(f"body_match={words.group(1)}")
    return "soft", "default"


def _by_class(digit: str, reason: str) -> tuple[BounceKind, str]:
    return ("hard" if digit == "5" else "soft"), reason


def _visit(part: Message, walk: _Walk, *, top: bool = False) -> None:
    ctype = part.get_content_type()
    if part.is_multipart() and ctype.startswith("multipart/"):
        for child in part.get_payload():
            if isinstance(child, Message):
                _visit(child, walk)
        return
    if ctype in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            walk.originals.append(inner[0])
        else:
            walk.originals.append(HeaderParser().parsestr(_text_of(part)))
        return
    if ctype in ("text/rfc822-headers", "message/global-headers"):
        text = _text_of(part)
        walk.decoded.append(text)
        walk.originals.append(HeaderParser().parsestr(text))
        return
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        walk.status_blocks.extend(_field_blocks(part))
        return
    if ctype == "message/feedback-report":
        blocks = _field_blocks(part)
        walk.feedback = {k: v for b in blocks for k, v in b.items()}
        return
    text = _text_of(part)
    walk.decoded.append(text)
    if ctype == "text/html":
        walk.html_text.append(_report_only(_TAGS.sub(" ", text)))
    elif ctype.startswith("text/") or top:
        walk.report_text.append(_report_only(text))


def _report_only(text: str) -> str:
    """The report's words without the original message quoted after them."""
    cut = _QUOTED_ORIGINAL.search(text)
    return text[: cut.start()] if cut else text


def _text_of(part: Message) -> str:
    """A leaf part's content as text, transfer encoding and charset undone."""
    payload = part.get_payload()
    if isinstance(payload, list):  # a message/* part the parser split into messages
        return "\n\n".join(m.as_string() for m in payload if isinstance(m, Message))
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(payload)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return data.decode("utf-8", errors="replace")


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a DSN or ARF report (lower-cased names, unfolded values)."""
    payload = part.get_payload()
    messages: list[Message] = []
    if isinstance(payload, list):
        messages = [m for m in payload if isinstance(m, Message)]
    text = ""
    if not messages:
        text = _text_of(part)
    elif len(messages) == 1 and isinstance(messages[0].get_payload(), str):
        # message/global-delivery-status and the like: the first block parsed as headers,
        # the others left as its body
        text = str(messages[0].get_payload())
    blocks = [{k.lower(): " ".join(str(v).split()) for k, v in m.items()} for m in messages]
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text):
        if chunk.strip():
            parsed = HeaderParser().parsestr(chunk.strip() + "\n")
            block = {k.lower(): " ".join(str(v).split()) for k, v in parsed.items()}
            if block:
                blocks.append(block)
    return blocks


def _listmonk_id(name: str, walk: _Walk, raw: bytes) -> str:
    """The uuid of ``X-Listmonk-...`` in a returned message's headers, else the first such
    line anywhere (as listmonk falls back to a regex over the message)."""
    for original in walk.originals:
        found = _uuid(str(original.get(name, "")))
        if found:
            return found
    for text in [raw.decode("utf-8", errors="replace"), *walk.decoded]:
        match = _HEADER_LINE[name].search(text)
        if match:
            return _uuid(match.group(1))
    return ""


def _uuid(text: str) -> str:
    value = text.strip().strip("<>").strip()
    if len(value) != 36:
        return ""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return ""


def _recipient(msg: Message, walk: _Walk) -> str:
    """The address the report is about: the DSN's recipient, the ARF's original recipient,
    Exim's ``X-Failed-Recipients``, or the returned message's ``To``."""
    candidates: list[str] = []
    for block in walk.status_blocks:
        candidates += [block.get("final-recipient", ""), block.get("original-recipient", "")]
    if walk.feedback is not None:
        candidates.append(walk.feedback.get("original-rcpt-to", ""))
    candidates.append(str(msg.get("X-Failed-Recipients", "")).split(",")[0])
    if walk.feedback is not None:
        candidates += [str(o.get("To", "")) for o in walk.originals]
    for candidate in candidates:
        address = _address(candidate)
        if address:
            return address
    return ""


def _address(text: str) -> str:
    value = text.rsplit(";", 1)[-1].strip()
    if "<" in value and ">" in value:
        value = value[value.rfind("<") + 1: value.rfind(">")]
    value = value.strip()
    if len(value) > EMAIL_MAX or not _ADDRESS.match(value) or _NOT_TEXT.search(value):
        return ""
    return value


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except Exception:  # a malformed encoded word: keep it as it came
        text = str(value)
    return clean(text)


def _date(msg: Message) -> datetime | None:
    value = msg.get("Date")
    if value is None:
        return None
    try:
        date = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date if 1970 <= date.year <= 9998 else None


def clean(text: str, limit: int = TEXT_MAX) -> str:
    """One line of text without control characters, at most ``limit`` characters."""
    out = _SPACES.sub(" ", _NOT_TEXT.sub(" ", text)).strip()
    return out[:limit]
