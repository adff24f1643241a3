"""Events of the ``campaign`` category (e-mail campaigns); stream ``campaign-<id>``.

A campaign's stream holds its whole life: creation, edits, the status transitions of listmonk's
state machine (draft -> scheduled -> running -> paused/cancelled/finished), archive settings
and deletion. Creation and edits carry the campaign's whole editable content
(``CampaignContent``), so a projection never needs the previous state to apply them.

The transitions into ``running`` (``campaign.started``, ``campaign.resumed``) are what the
sender consumes: they carry the audience as the command side computed it (the lists, how many
subscribers to send to, the highest subscriber id to consider) and the template to render with.
``at`` is when the command was accepted (the campaign's new ``updated_at``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from events.base import Event

CampaignStatus = Literal["draft", "scheduled", "running", "paused", "cancelled", "finished"]
CampaignType = Literal["regular", "optin"]
ContentType = Literal["richtext", "html", "markdown", "plain", "visual"]

CAMPAIGN_STATUSES: tuple[CampaignStatus, ...] = (
    "draft", "scheduled", "running", "paused", "cancelled", "finished")
CAMPAIGN_TYPES: tuple[CampaignType, ...] = ("regular", "optin")
CONTENT_TYPES: tuple[ContentType, ...] = ("richtext", "html", "markdown", "plain", "visual")


class CampaignList(msgspec.Struct, frozen=True, kw_only=True):
    """A list a campaign targets, with the list's name when it was chosen (listmonk keeps the
    name so it survives the list's deletion)."""

    id: int
    name: str


class CampaignMedia(msgspec.Struct, frozen=True, kw_only=True):
    """A media file attached to a campaign (listmonk's ``campaign_media``), with its file name
    when it was chosen, kept after the file is deleted (the read model then shows ``id`` null).
    """

    id: int
    filename: str


class CampaignContent(msgspec.Struct, frozen=True, kw_only=True):
    """Everything about a campaign that ``POST``/``PUT /api/campaigns`` set (already validated
    and normalised: defaults filled, tags cleaned, empty ``altbody`` as ``None``)."""

    name: str
    subject: str
    from_email: str
    body: str = ""
    body_source: str | None = None
    altbody: str | None = None
    content_type: ContentType = "richtext"
    send_at: datetime | None = None
    headers: list[dict[str, str]] = []
    attribs: dict[str, Any] = {}
    tags: list[str] = []
    messenger: str = "email"
    template_id: int | None = None
    lists: list[CampaignList] = []
    archive: bool = False
    archive_slug: str | None = None
    archive_template_id: int | None = None
    archive_meta: dict[str, Any] = {}
    # Attachments, sent with every message (docs/media.md); older events have none.
    media: list[CampaignMedia] = []


class CampaignCreated(Event, tag="campaign.created", kw_only=True, frozen=True):
    """A draft campaign was created with its id (``eventlog.campaign_id_seq``) and uuid."""

    CATEGORY = "campaign"
    campaign_id: int
    uuid: str
    campaign_type: CampaignType
    content: CampaignContent
    at: datetime


class CampaignUpdated(Event, tag="campaign.updated", kw_only=True, frozen=True):
    """The campaign's whole new content after an edit (its type and status are unchanged)."""

    CATEGORY = "campaign"
    campaign_id: int
    content: CampaignContent
    at: datetime


class CampaignScheduled(Event, tag="campaign.scheduled", kw_only=True, frozen=True):
    """A draft or paused campaign will start by itself at ``send_at``."""

    CATEGORY = "campaign"
    campaign_id: int
    send_at: datetime
    at: datetime


class CampaignUnscheduled(Event, tag="campaign.unscheduled", kw_only=True, frozen=True):
    """A scheduled campaign went back to draft (asked for, or its ``send_at`` was cleared)."""

    CATEGORY = "campaign"
    campaign_id: int
    at: datetime


class _Launch(Event, kw_only=True, frozen=True):
    """What the sender needs to deliver a campaign that goes to ``running``."""

    CATEGORY = "campaign"
    campaign_id: int
    uuid: str
    campaign_type: CampaignType
    # Ids of the campaign's lists that still existed when sending (re)started.
    list_ids: list[int]
    # Distinct subscribers to send to, counted as listmonk counts them at that moment.
    to_send: int
    # The highest subscriber id among them: subscribers added later are not sent to.
    max_subscriber_id: int
    template_id: int | None
    messenger: str
    started_at: datetime
    at: datetime


class CampaignStarted(_Launch, tag="campaign.started", kw_only=True, frozen=True):
    """Sending began (the first time this campaign ran); ``started_at`` equals ``at``."""


class CampaignResumed(_Launch, tag="campaign.resumed", kw_only=True, frozen=True):
    """Sending continues after a pause; ``started_at`` is still the first start."""


class CampaignPaused(Event, tag="campaign.paused", kw_only=True, frozen=True):
    """Sending stopped until a resume. ``reason`` is empty when a user paused it, else why
    the sender did (e.g. ``app.max_send_errors`` reached)."""

    CATEGORY = "campaign"
    campaign_id: int
    at: datetime
    reason: str = ""


class CampaignCancelled(Event, tag="campaign.cancelled", kw_only=True, frozen=True):
    CATEGORY = "campaign"
    campaign_id: int
    at: datetime


class CampaignFinished(Event, tag="campaign.finished", kw_only=True, frozen=True):
    CATEGORY = "campaign"
    campaign_id: int
    at: datetime


class CampaignArchiveChanged(Event, tag="campaign.archive_changed", kw_only=True, frozen=True):
    """The public-archive settings after ``PUT /api/campaigns/:id/archive`` (whole values)."""

    CATEGORY = "campaign"
    campaign_id: int
    archive: bool
    archive_slug: str | None = None
    archive_template_id: int | None = None
    archive_meta: dict[str, Any] = {}
    at: datetime


class CampaignDeleted(Event, tag="campaign.deleted", kw_only=True, frozen=True):
    """The campaign is gone (the sender stops it if it was running); its id is never reused."""

    CATEGORY = "campaign"
    campaign_id: int
    at: datetime


CampaignEvent = (
    CampaignCreated | CampaignUpdated | CampaignScheduled | CampaignUnscheduled | CampaignStarted
    | CampaignResumed | CampaignPaused | CampaignCancelled | CampaignFinished
    | CampaignArchiveChanged | CampaignDeleted
)
