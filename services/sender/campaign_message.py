"""A campaign prepared once per activation, and its message for one recipient.

``prepare_campaign`` compiles the campaign (subject, body in its template, alt body, custom
headers) once, with listmonk's template functions and the live ``privacy.*`` settings;
``build_message`` renders it for a recipient into the ``OutgoingMessage`` every messenger
takes: listmonk's headers (``X-Listmonk-Campaign``, ``X-Listmonk-Subscriber``,
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` when ``privacy.unsubscribe_header``), then
the campaign's own, and the campaign's ``from_email``. The message id is derived from the
campaign and the subscriber, so a message sent again (after a crash, a retry) keeps its
``Message-Id`` and a receiver can tell it is the same message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from events.message_storage import AttachmentFile
from events.settings import AppSettings
from services.sender.campaign_plan import CampaignPlan
from services.sender.messengers.base import CampaignInfo, OutgoingMessage, Recipient
from services.sender.recipients import RecipientRow
from services.sender.rendering import CompiledCampaign, compile_campaign, render_campaign
from services.sender.templating import I18n, campaign_funcs
from services.sender.templating.data import ENGLISH, Campaign, CampaignMessage, Subscriber
from services.sender.templating.funcs_listmonk import default_link_uuid

_MESSAGE_IDS = uuid.UUID("0c7d3f9e-2b71-4f0e-9d0a-5b1f2e6c8a44")


@dataclass(frozen=True)
class PreparedCampaign:
    """A campaign ready to render for any recipient (shared by every worker)."""

    plan: CampaignPlan
    compiled: CompiledCampaign
    data: Campaign
    info: CampaignInfo
    # the campaign's media, loaded once per run (services/sender/campaign_media.py)
    attachments: tuple[AttachmentFile, ...] = ()


def prepare_campaign(plan: CampaignPlan, template_body: str | None,
                     settings: AppSettings,
                     link_uuid: Callable[[str], str | None] = default_link_uuid,
                     ) -> PreparedCampaign:
    """Compile ``plan``'s content once; ``TemplateError`` names the part that fails.

    ``link_uuid`` gives the uuid of each registered tracked URL (None: left untracked; see
    ``services.tracking.links``)."""
    content = plan.content
    root_url = settings.app_root_url.rstrip("/")
    funcs = campaign_funcs(root_url=root_url, campaign_uuid=plan.uuid, i18n=I18n(ENGLISH),
                           link_uuid=link_uuid,
                           disable_tracking=settings.privacy_disable_tracking,
                           individual_tracking=settings.privacy_individual_tracking)
    compiled = compile_campaign(content, campaign_uuid=plan.uuid, template_body=template_body,
                                funcs=funcs, root_url=root_url,
                                unsubscribe_header=settings.privacy_unsubscribe_header)
    data = Campaign(ID=plan.campaign_id, UUID=plan.uuid, Name=content.name,
                    Subject=content.subject, FromEmail=content.from_email,
                    Tags=list(content.tags), Type=plan.campaign_type,
                    ContentType=content.content_type, Status=plan.status,
                    CreatedAt=plan.created_at, UpdatedAt=plan.updated_at)
    info = CampaignInfo(uuid=plan.uuid, name=content.name, from_email=content.from_email,
                        headers=tuple(content.headers), tags=tuple(content.tags))
    return PreparedCampaign(plan=plan, compiled=compiled, data=data, info=info)


def message_id(campaign_uuid: str, subscriber_uuid: str) -> str:
    """The same id every time this campaign's message goes to this subscriber."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"{campaign_uuid}/{subscriber_uuid}"))


def build_message(prepared: PreparedCampaign, row: RecipientRow) -> OutgoingMessage:
    """The campaign's message for ``row``; ``TemplateError`` if a part fails to render."""
    when = row.created_at or datetime.now(UTC)
    subscriber = Subscriber(ID=row.id, UUID=row.uuid, Email=row.email, Name=row.name,
                            Attribs=row.attribs, Status=row.status, CreatedAt=when,
                            UpdatedAt=row.updated_at or when)
    content = render_campaign(prepared.compiled,
                              CampaignMessage(Campaign=prepared.data, Subscriber=subscriber))
    return OutgoingMessage(
        message_id=message_id(prepared.plan.uuid, row.uuid),
        from_email=prepared.plan.content.from_email, content=content,
        content_type=prepared.plan.content.content_type,
        recipient=Recipient(uuid=row.uuid, email=row.email, name=row.name,
                            attribs=row.attribs, status=row.status),
        campaign=prepared.info, attachments=prepared.attachments)
