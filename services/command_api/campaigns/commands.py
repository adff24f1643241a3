"""Commands on a campaign and listmonk's messages for refusing them.

Ids, uuid, time and everything read from other streams or read models (the lists' names, the
template, the audience) arrive on the command: the handler resolves them (``handlers.py``), the
decider stays pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from events.campaigns import CampaignList, CampaignMedia, CampaignType

# listmonk's English messages (i18n/en.json), so clients matching on them keep working.
CAMPAIGN_NOT_FOUND = "Campaign not found"
CANT_UPDATE = "Cannot update a running or a finished campaign."
INVALID_FROM_EMAIL = "Invalid `from_email`."
INVALID_LIST_IDS = "Invalid list IDs."
INVALID_NAME = "Invalid length for name."
INVALID_SUBJECT = "Invalid length for subject."
INVALID_SEND_AT = "Scheduled date should be in the future."
UNKNOWN_MESSENGER = "Unknown messenger {}."
NO_OPTIN_LISTS = "No opt-in lists found to create campaign."
NEEDS_SEND_AT = "Campaign needs a date to be scheduled."
ONLY_SCHEDULED_AS_DRAFT = "Only scheduled campaigns can be saved as drafts."
ONLY_DRAFT_AS_SCHEDULED = "Only draft or paused campaigns can be scheduled."
ONLY_PAUSED_DRAFT = "Only paused campaigns and drafts can be started."
ONLY_ACTIVE_PAUSE = "Only active campaigns can be paused."
ONLY_ACTIVE_CANCEL = "Only active campaigns can be cancelled."
# listmonk lets a client set ``finished`` from any status; postlog keeps the state machine.
ONLY_RUNNING_FINISH = "Only running campaigns can be finished."
NOT_DUE = "The campaign is not scheduled to start yet."
NO_MESSENGER = ("Cannot start the campaign: its messenger {!r} is not enabled. Enable an SMTP"
                " server (or the messenger) in the settings first.")


class CampaignPatch(msgspec.Struct, frozen=True, kw_only=True):
    """The campaign fields a request sent, bound like Go binds JSON onto the stored campaign:
    ``UNSET`` keeps the current value. Nullable fields (``altbody``, ``send_at``...) hold
    ``None`` when the client sent ``null``; for the others ``null`` already became ``UNSET``."""

    name: str | UnsetType = UNSET
    subject: str | UnsetType = UNSET
    from_email: str | UnsetType = UNSET
    body: str | UnsetType = UNSET
    body_source: str | UnsetType | None = UNSET
    altbody: str | UnsetType | None = UNSET
    content_type: str | UnsetType = UNSET
    send_at: datetime | UnsetType | None = UNSET
    headers: list[dict[str, str]] | UnsetType = UNSET
    attribs: dict[str, Any] | UnsetType = UNSET
    tags: tuple[str, ...] | UnsetType = UNSET
    messenger: str | UnsetType = UNSET
    archive: bool | UnsetType = UNSET
    archive_slug: str | UnsetType | None = UNSET
    archive_template_id: int | UnsetType | None = UNSET
    archive_meta: dict[str, Any] | UnsetType = UNSET
    # the files among the requested media ids that exist (resolved by the handler)
    media: list[CampaignMedia] | UnsetType = UNSET


class ListRef(msgspec.Struct, frozen=True, kw_only=True):
    """A live list a request named, as the command side found it."""

    id: int
    name: str
    uuid: str = ""
    list_type: str = "private"
    optin: str = "single"

    def entry(self) -> CampaignList:
        return CampaignList(id=self.id, name=self.name)


class Audience(msgspec.Struct, frozen=True, kw_only=True):
    """Who a campaign goes to if it starts now (computed from the read models at the time)."""

    list_ids: tuple[int, ...] = ()
    to_send: int = 0
    max_subscriber_id: int = 0
    template_id: int | None = None


class CreateCampaign(msgspec.Struct, frozen=True, kw_only=True):
    """Create a draft. ``lists`` are the requested lists that exist, ``unknown_list_ids`` the
    ones that do not; ``template_id`` is the requested template or the default one."""

    campaign_id: int
    uuid: str
    campaign_type: CampaignType = "regular"
    patch: CampaignPatch
    list_ids: tuple[int, ...] = ()
    lists: tuple[ListRef, ...] = ()
    template_id: int | None = None
    default_from_email: str
    messengers: tuple[str, ...] = ("email",)
    at: datetime


class UpdateCampaign(msgspec.Struct, frozen=True, kw_only=True):
    """Edit a draft, scheduled or paused campaign. Lists are always replaced (listmonk needs
    them on every update); ``template_id`` is the template to use from now on."""

    campaign_id: int
    patch: CampaignPatch
    list_ids: tuple[int, ...] = ()
    lists: tuple[ListRef, ...] = ()
    template_id: int | None = None
    default_from_email: str
    messengers: tuple[str, ...] = ("email",)
    at: datetime


class ChangeStatus(msgspec.Struct, frozen=True, kw_only=True):
    """``PUT /api/campaigns/:id/status``. ``audience`` is used if the campaign starts."""

    campaign_id: int
    status: str
    audience: Audience = Audience()
    at: datetime


class StartDue(msgspec.Struct, frozen=True, kw_only=True):
    """The scheduler starts a scheduled campaign whose ``send_at`` has passed."""

    campaign_id: int
    audience: Audience = Audience()
    at: datetime


class FinishCampaign(msgspec.Struct, frozen=True, kw_only=True):
    """The sender delivered every message of a running campaign."""

    campaign_id: int
    at: datetime


class PauseSending(msgspec.Struct, frozen=True, kw_only=True):
    """The sender pauses a running campaign for ``reason`` (too many failed deliveries, a
    messenger that is not enabled, a template that does not compile)."""

    campaign_id: int
    reason: str
    at: datetime


class SetArchive(msgspec.Struct, frozen=True, kw_only=True):
    """``PUT /api/campaigns/:id/archive``: ``None`` keeps the template id and the metadata."""

    campaign_id: int
    archive: bool
    archive_slug: str | None = None
    archive_template_id: int | None = None
    archive_meta: dict[str, Any] | None = None
    at: datetime


class DeleteCampaign(msgspec.Struct, frozen=True, kw_only=True):
    campaign_id: int
    at: datetime


CampaignCommand = (
    CreateCampaign | UpdateCampaign | ChangeStatus | StartDue | FinishCampaign | PauseSending
    | SetArchive | DeleteCampaign
)
