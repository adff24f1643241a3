"""The public archive's rendering, shared by the query API (the archive pages, JSON and feed)
and the command API (``POST /api/campaigns/:id/preview/archive``).

As listmonk's ``compileArchiveCampaigns``: the campaign is compiled with listmonk's campaign
functions and its archive template (``readmodels/archive.py`` chose the body), and rendered for
a subscriber made of the campaign's ``archive_meta`` (the JSON object listmonk decodes into its
``models.Subscriber``: ``uuid``, ``email``, ``name``, ``attribs``... matched without regard to
case, missing fields empty). The subject is rendered first (it may be a template), and the body
sees the rendered subject as ``.Campaign.Subject``. Compiling and rendering are the sender's
(``services/sender/templating``), so an archived message reads as the e-mail did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from events.settings import AppSettings
from gotemplate import TemplateError
from readmodels.lists import timestamp
from services.sender.templating import (
    I18n,
    campaign_funcs,
    compile_campaign_body,
    compile_subject,
)
from services.sender.templating.data import ENGLISH, Campaign, CampaignMessage, Subscriber

ARCHIVE_TITLE = "Mailing list archive"
ARCHIVE_EMPTY = "No archived messages yet."
CAMPAIGN_NOT_FOUND = "The e-mail message was not found."
FETCH_ERROR = "Error fetching e-mail message."
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time: a field the meta leaves out

Funcs = dict[str, Any]


class ArchiveMetaError(ValueError):
    """``archive_meta`` cannot be read as listmonk's subscriber."""


def _string(key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ArchiveMetaError(f"archive_meta: {key} must be a string")
    return value


def _int(key: str, value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArchiveMetaError(f"archive_meta: {key} must be a number")
    if isinstance(value, float) and not value.is_integer():
        raise ArchiveMetaError(f"archive_meta: {key} must be an integer")
    return int(value)


def _time(key: str, value: Any) -> datetime:
    if value is None:
        return ZERO_TIME
    if not isinstance(value, str):
        raise ArchiveMetaError(f"archive_meta: {key} must be a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ArchiveMetaError(f"archive_meta: {key} must be an RFC 3339 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def meta_subscriber(meta: Any) -> Subscriber:
    """The subscriber an archived campaign is rendered for, from its ``archive_meta``: keys
    matched to listmonk's subscriber fields without regard to case (as Go's JSON decoder
    does), others ignored, missing ones empty. A value of the wrong type is an
    ``ArchiveMetaError``."""
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ArchiveMetaError("archive_meta must be a JSON object")
    fields = {str(key).lower(): value for key, value in meta.items()}
    attribs = fields.get("attribs")
    if attribs is not None and not isinstance(attribs, dict):
        raise ArchiveMetaError("archive_meta: attribs must be an object")
    lists = fields.get("lists")
    return Subscriber(
        ID=_int("id", fields.get("id")), UUID=_string("uuid", fields.get("uuid")),
        Email=_string("email", fields.get("email")), Name=_string("name", fields.get("name")),
        Attribs=dict(attribs or {}), Status=_string("status", fields.get("status")),
        Lists=list(lists) if isinstance(lists, list) else [],
        CreatedAt=_time("created_at", fields.get("created_at")),
        UpdatedAt=_time("updated_at", fields.get("updated_at")))


def archive_funcs(settings: AppSettings, campaign_uuid: str) -> Funcs:
    """listmonk's campaign functions for this campaign, with the live tracking settings (as
    the sender compiles it)."""
    return campaign_funcs(root_url=settings.app_root_url.rstrip("/"),
                          campaign_uuid=campaign_uuid, i18n=I18n(ENGLISH),
                          disable_tracking=settings.privacy_disable_tracking,
                          individual_tracking=settings.privacy_individual_tracking)


def _campaign(row: dict[str, Any], subject: str) -> Campaign:
    return Campaign(ID=row["id"], UUID=row["uuid"], Name=row["name"], Subject=subject,
                    FromEmail=row["from_email"], Tags=list(row["tags"] or []),
                    Type=row["type"], ContentType=row["content_type"], Status=row["status"],
                    CreatedAt=row["created_at"], UpdatedAt=row["updated_at"])


def render_subject(row: dict[str, Any], subscriber: Subscriber, funcs: Funcs) -> str:
    """The campaign's subject rendered for ``subscriber`` (``TemplateError`` if it fails)."""
    compiled = compile_subject(row["subject"], funcs=funcs)
    return compiled.render(CampaignMessage(Campaign=_campaign(row, row["subject"]),
                                           Subscriber=subscriber))


@dataclass(frozen=True)
class RenderedArchive:
    subject: str
    body: str


_ROW_META: Any = object()  # render_archived's default: the row's own archive_meta


def render_archived(row: dict[str, Any], settings: AppSettings, *,
                    meta: Any = _ROW_META, with_body: bool = True) -> RenderedArchive:
    """The campaign of ``row`` (with its ``template_body``) rendered for its archive meta (or
    ``meta`` when given). ``TemplateError`` or ``ArchiveMetaError`` when it cannot be."""
    subscriber = meta_subscriber(row["archive_meta"] if meta is _ROW_META else meta)
    funcs = archive_funcs(settings, row["uuid"])
    subject = render_subject(row, subscriber, funcs)
    if not with_body:
        return RenderedArchive(subject, "")
    content_type = row["content_type"]
    compiled = compile_campaign_body(row["body"], funcs=funcs, content_type=content_type,
                                     template_body=row["template_body"] or None)
    body = compiled.render(CampaignMessage(Campaign=_campaign(row, subject),
                                           Subscriber=subscriber))
    return RenderedArchive(subject, body)


def archive_url(root_url: str, row: dict[str, Any]) -> str:
    """The campaign's public page: ``<root>/archive/<slug>``, or ``/<uuid>`` without a slug."""
    name = row["archive_slug"] or row["uuid"]
    return f"{root_url.rstrip('/')}/archive/{quote(name, safe='-._~')}"


def published_at(row: dict[str, Any]) -> datetime:
    """When the campaign counts as published: its ``send_at`` if set, else its creation."""
    when: datetime = row["send_at"] or row["created_at"]
    return when


def archive_entry(row: dict[str, Any], settings: AppSettings, *, with_content: bool,
                  on_error: Callable[[dict[str, Any], Exception], None] | None = None
                  ) -> dict[str, Any]:
    """One campaign as listmonk's archive JSON has it: ``uuid``, ``subject`` (rendered),
    ``content`` (the rendered message when ``with_content``, else empty), ``created_at``,
    ``send_at``, ``url``. A subject that fails to render is shown as written (``on_error``
    is told), so one broken campaign does not take the archive down."""
    try:
        rendered = render_archived(row, settings, with_body=with_content)
    except (TemplateError, ArchiveMetaError) as exc:
        if on_error is not None:
            on_error(row, exc)
        rendered = RenderedArchive(row["subject"], "")
    return {
        "uuid": row["uuid"],
        "subject": rendered.subject,
        "content": rendered.body,
        "created_at": timestamp(row["created_at"]),
        "send_at": timestamp(row["send_at"]) if row["send_at"] is not None else None,
        "url": archive_url(settings.app_root_url, row),
    }
