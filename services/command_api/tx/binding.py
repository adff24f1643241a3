"""``POST /api/tx`` bodies bound and validated as listmonk's ``SendTxMessage`` does.

A JSON body binds onto listmonk's ``models.TxMessage`` (keys case-insensitive, wrong JSON types
are a 400 naming the Go type). A ``multipart/form-data`` body carries the same JSON in its one
``data`` field and the attachments as ``file`` parts. Validation follows
``validateTxMessage``: its order, its messages (``Invalid fields: ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from events.message_storage import AttachmentFile
from events.validation import check_json, check_line, check_text
from kernel.errors import InvalidInput
from services.command_api.subscribers.fields import INVALID_EMAIL, sanitize_email
from services.http.binding import (
    bind_object,
    int_field,
    int_list_field,
    object_field,
    string_field,
    type_error,
)

SubscriberMode = Literal["default", "fallback", "external"]

TX_FIELDS = (
    "subscriber_mode", "subscriber_emails", "subscriber_ids", "subscriber_email", "subscriber_id",
    "template_id", "data", "from_email", "headers", "content_type", "messenger", "subject",
    "altbody",
)
INVALID_FIELDS = "Invalid fields: {}"
SUBJECT_MAX_BYTES = 5000
HEADER_NAME_MAX_BYTES = 1000
UNKNOWN_MESSENGER = "Unknown messenger {}."


@dataclass(frozen=True)
class TxRequest:
    """A transactional message request (listmonk's ``TxMessage``) after binding."""

    subscriber_mode: str = ""
    subscriber_emails: tuple[str, ...] = ()
    subscriber_ids: tuple[int, ...] = ()
    subscriber_email: str = ""
    subscriber_id: int = 0
    template_id: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    from_email: str = ""
    headers: tuple[dict[str, str], ...] = ()
    content_type: str = ""
    messenger: str = ""
    subject: str = ""
    altbody: str = ""
    attachments: tuple[AttachmentFile, ...] = ()

    @property
    def mode(self) -> SubscriberMode:
        """The validated ``subscriber_mode`` (``validate`` has run)."""
        if self.subscriber_mode in ("fallback", "external"):
            return "fallback" if self.subscriber_mode == "fallback" else "external"
        return "default"


def bind_tx(body: bytes) -> TxRequest:
    """A JSON body bound like echo's ``c.Bind`` (empty body: nothing bound)."""
    data = bind_object(body, TX_FIELDS)
    return TxRequest(
        subscriber_mode=string_field(data, "subscriber_mode") or "",
        subscriber_emails=_strings(data, "subscriber_emails"),
        subscriber_ids=int_list_field(data, "subscriber_ids") or (),
        subscriber_email=string_field(data, "subscriber_email") or "",
        subscriber_id=int_field(data, "subscriber_id") or 0,
        template_id=int_field(data, "template_id") or 0,
        data=object_field(data, "data") or {},
        from_email=string_field(data, "from_email") or "",
        headers=_headers(data.get("headers")),
        content_type=string_field(data, "content_type") or "",
        messenger=string_field(data, "messenger") or "",
        subject=string_field(data, "subject") or "",
        altbody=string_field(data, "altbody") or "",
    )


def bind_multipart(data_values: list[str], files: list[AttachmentFile]) -> TxRequest:
    """A multipart body: exactly one ``data`` field holding the JSON, ``file`` attachments."""
    if len(data_values) != 1:
        raise InvalidInput(INVALID_FIELDS.format("data"))
    try:
        request = bind_tx(data_values[0].encode())
    except InvalidInput as exc:
        raise InvalidInput(INVALID_FIELDS.format(f"data: {exc.message}")) from None
    return replace(request, attachments=tuple(files))


def validate(req: TxRequest, *, default_from_email: str,
             messengers: tuple[str, ...] = ("email",)) -> TxRequest:
    """The request with listmonk's defaults filled in, or ``InvalidInput`` with its message."""
    emails, ids = list(req.subscriber_emails), list(req.subscriber_ids)
    if emails and req.subscriber_email:
        raise InvalidInput(INVALID_FIELDS.format("do not send `subscriber_email`"))
    if ids and req.subscriber_id:
        raise InvalidInput(INVALID_FIELDS.format("do not send `subscriber_id`"))
    if req.subscriber_email:
        emails.append(req.subscriber_email)
    if req.subscriber_id:
        ids.append(req.subscriber_id)
    mode = req.subscriber_mode or "default"
    if mode == "default":
        if bool(emails) == bool(ids):
            raise InvalidInput(INVALID_FIELDS.format("send subscriber_emails OR subscriber_ids"))
    elif mode in ("fallback", "external"):
        if ids:
            raise InvalidInput(INVALID_FIELDS.format(
                "subscriber_ids not allowed in fallback or external mode"))
        if not emails:
            raise InvalidInput(INVALID_FIELDS.format("subscriber_emails"))
    else:
        raise InvalidInput(INVALID_FIELDS.format("subscriber_mode"))
    cleaned: list[str] = []
    for email in emails:
        if not email.strip():
            # listmonk keeps an empty address (and fails later); without a subscriber to
            # look up there is nowhere to send it, so it is refused here.
            if mode != "default":
                raise InvalidInput(INVALID_EMAIL)
            cleaned.append("")
            continue
        cleaned.append(sanitize_email(email))
    messenger = req.messenger or "email"
    if messenger not in messengers:
        raise InvalidInput(UNKNOWN_MESSENGER.format(messenger))
    check_texts(req)
    return replace(req, subscriber_mode=mode, subscriber_emails=tuple(cleaned),
                   subscriber_ids=tuple(ids), from_email=req.from_email or default_from_email,
                   messenger=messenger)


def check_texts(req: TxRequest) -> None:
    """postlog's validation boundary (``events/validation.py``) over every text of a message:
    subject, addresses and headers one line each, the alt body without NUL, ``data`` without
    NUL and at most 64 levels deep; 400 naming the first field that fails."""
    check_line(req.subject, "subject", SUBJECT_MAX_BYTES)
    check_line(req.from_email, "from_email")
    check_line(req.content_type, "content_type")
    check_text(req.altbody, "altbody")
    check_json(req.data, "data")
    for header in req.headers:
        for name, value in header.items():
            check_line(name, "headers", HEADER_NAME_MAX_BYTES)
            check_line(value, "headers", SUBJECT_MAX_BYTES)
    for attachment in req.attachments:
        check_line(attachment.name, "file name", HEADER_NAME_MAX_BYTES)
        check_line(attachment.content_type, "file content type", HEADER_NAME_MAX_BYTES)


def _strings(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise type_error("[]string", value, name)
    out: list[str] = []
    for item in value:
        if item is not None and not isinstance(item, str):
            raise type_error("string", item, name)
        out.append(item or "")
    return tuple(out)


def _headers(value: Any) -> tuple[dict[str, str], ...]:
    """listmonk's ``models.Headers``: an array of ``{name: value}`` objects."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise type_error("models.Headers", value, "headers")
    out: list[dict[str, str]] = []
    for item in value:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise type_error("map[string]string", item, "headers")
        for text in item.values():
            if not isinstance(text, str):
                raise type_error("string", text, "headers")
        out.append(dict(item))
    return tuple(out)
