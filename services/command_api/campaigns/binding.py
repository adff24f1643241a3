"""Reads campaign request bodies the way listmonk's handlers bind them (echo + encoding/json).

Keys match case-insensitively, unknown keys are ignored, a wrong JSON type is a 400 naming the
expected Go type. ``null`` keeps the current value of a plain field (Go leaves a string alone)
but clears a nullable one (``altbody``, ``send_at``, ``archive_slug``...), as Go does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kernel.errors import InvalidInput
from services.command_api.campaigns.commands import CampaignPatch
from services.command_api.lists.commands import normalize_tags
from services.http.binding import (
    bind_object,
    bool_field,
    int_field,
    int_list_field,
    object_field,
    string_field,
    string_list,
    type_error,
)

CAMPAIGN_FIELDS = (
    "name", "subject", "from_email", "body", "body_source", "altbody", "content_type",
    "send_at", "headers", "attribs", "tags", "messenger", "archive", "archive_slug",
    "archive_template_id", "archive_meta", "type", "lists", "template_id", "media",
)
_PLAIN = ("name", "subject", "from_email", "body", "content_type", "messenger")
_NULLABLE = ("body_source", "altbody", "archive_slug")


@dataclass(frozen=True)
class CampaignRequest:
    """A create or update request: the content patch plus what the handler must resolve."""

    patch: CampaignPatch
    campaign_type: str = ""
    list_ids: tuple[int, ...] = ()
    template_id: int | None = None  # None: not given (or 0 / null)
    # The media (attachments) ids asked for; None: not given, the current ones are kept.
    media_ids: tuple[int, ...] | None = None


def campaign_request(body: bytes) -> CampaignRequest:
    """Bind a ``POST``/``PUT /api/campaigns`` JSON body."""
    data = bind_object(body, CAMPAIGN_FIELDS)
    values: dict[str, Any] = {}
    for field in _PLAIN:
        text = string_field(data, field)
        if text is not None:
            values[field] = text
    for field in _NULLABLE:
        if field in data:
            values[field] = string_field(data, field)
    if "send_at" in data:
        values["send_at"] = _time(data, "send_at")
    if "headers" in data:
        values["headers"] = _headers(data.get("headers"))
    if data.get("attribs") is not None:
        values["attribs"] = object_field(data, "attribs")
    if "tags" in data:
        values["tags"] = _tags(data.get("tags"))
    if data.get("archive") is not None:
        values["archive"] = bool_field(data, "archive")
    if "archive_template_id" in data:
        values["archive_template_id"] = int_field(data, "archive_template_id") or None
    if "archive_meta" in data:
        values["archive_meta"] = object_field(data, "archive_meta") or {}
    template_id = int_field(data, "template_id")
    return CampaignRequest(
        patch=CampaignPatch(**values),
        campaign_type=string_field(data, "type") or "",
        list_ids=int_list_field(data, "lists") or (),
        template_id=template_id if template_id and template_id > 0 else None,
        media_ids=int_list_field(data, "media"),
    )


@dataclass(frozen=True)
class ArchiveRequest:
    archive: bool = False
    archive_template_id: int = 0
    archive_meta: dict[str, Any] | None = None
    archive_slug: str = ""


def archive_request(body: bytes) -> ArchiveRequest:
    """Bind a ``PUT /api/campaigns/:id/archive`` JSON body."""
    data = bind_object(body, ("archive", "archive_template_id", "archive_meta", "archive_slug"))
    return ArchiveRequest(
        archive=bool_field(data, "archive"),
        archive_template_id=int_field(data, "archive_template_id") or 0,
        archive_meta=object_field(data, "archive_meta"),
        archive_slug=string_field(data, "archive_slug") or "",
    )


def status_request(body: bytes) -> str:
    """The ``status`` of a ``PUT /api/campaigns/:id/status`` JSON body ("" when absent)."""
    return string_field(bind_object(body, ("status",)), "status") or ""


def _time(data: Mapping[str, Any], field: str) -> datetime | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise type_error("time.Time", value, field)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value.upper():
        raise InvalidInput(
            f"Invalid {field}: {value!r} (an RFC 3339 date-time like 2024-01-02T15:04:05Z)")
    return parsed


def _headers(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise type_error("models.Headers", value, "headers")
    out: list[dict[str, str]] = []
    for item in value:
        if item is None:
            out.append({})
            continue
        if not isinstance(item, dict):
            raise type_error("map[string]string", item, "headers")
        for text in item.values():
            if not isinstance(text, str):
                raise type_error("string", text, "headers")
        out.append(dict(item))
    return out


def _tags(value: Any) -> tuple[str, ...]:
    return normalize_tags(string_list(value, "pq.StringArray", "tags") or [])
