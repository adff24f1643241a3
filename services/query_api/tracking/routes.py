"""Tracking pages, without credentials, as listmonk serves them (``cmd/public.go``):

- ``GET /link/:linkUUID/:campUUID/:subUUID`` — 307 to the link's URL, the click recorded;
  an unknown link is a 400 page "Invalid link".
- ``GET /campaign/:campUUID/:subUUID/px.png`` — a 1x1 transparent PNG (``Cache-Control:
  no-cache``), the view recorded; whatever the uuids name, the image is served.
- ``GET /campaign/:campUUID/:subUUID`` — "view in browser": the campaign's message rendered for
  the subscriber; 404 pages for an unknown campaign or subscriber.

Malformed uuids are a 400 page "Invalid UUID(s)"; every answer has ``X-Robots-Tag: noindex``.
Hits go to the process's ``TrackingRecorder`` (memory; appended in batches after the answer,
docs/tracking.md). ``privacy.disable_tracking`` records nothing; with
``privacy.individual_tracking`` off the subscriber is not recorded. The recorder is
``app.state.tracking`` (started by ``postlog.app``).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import structlog
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from gotemplate import TemplateError
from readmodels.public import is_uuid
from readmodels.tracking import campaign_by_uuid, subscriber_by_uuid
from services.http.pages import error_page, message_page
from services.runtime import Runtime
from services.sender.templating import compile_campaign_body
from services.sender.templating.data import ENGLISH, Campaign, CampaignMessage, Subscriber
from services.sender.templating.funcs_listmonk import I18n, campaign_funcs, campaign_link_urls
from services.tracking.links import register_links
from services.tracking.recorder import TrackingRecorder

log = structlog.get_logger(__name__)

INVALID_UUID = "Invalid UUID(s)"
INVALID_LINK = "Invalid link"
CAMPAIGN_NOT_FOUND = "The e-mail message was not found."
MESSAGE_NOT_FOUND = "E-mail message not found"
FETCH_ERROR = "Error fetching e-mail message."
NO_INDEX = {"X-Robots-Tag": "noindex"}


def _png_1x1() -> bytes:
    """A 1x1 fully transparent RGBA PNG (what listmonk draws with Go's image/png)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\x00\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


PIXEL = _png_1x1()


def _recorder(request: Request[Any, Any, Any]) -> TrackingRecorder:
    recorder = request.app.state.tracking
    assert isinstance(recorder, TrackingRecorder)
    return recorder


def _page(response: Response[str]) -> Response[str]:
    response.headers.update(NO_INDEX)
    return response


def _invalid_uuid() -> Response[str]:
    return _page(message_page("Error", INVALID_UUID, status_code=400))


@get("/link/{link_uuid:str}/{campaign_uuid:str}/{subscriber_uuid:str}",
     operation_id="publicLinkRedirect")
async def link_redirect(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    link_uuid: FromPath[str], campaign_uuid: FromPath[str], subscriber_uuid: FromPath[str],
) -> Response[Any]:
    if not (is_uuid(link_uuid) and is_uuid(campaign_uuid) and is_uuid(subscriber_uuid)):
        return _invalid_uuid()
    recorder = _recorder(request)
    link = await recorder.link(link_uuid)
    if link is None:
        return _page(message_page("Error", INVALID_LINK, status_code=400))
    link_id, url = link
    privacy = await runtime.live_settings.get()
    if not privacy.privacy_disable_tracking:
        recorder.click(link_id, campaign_uuid,
                       subscriber_uuid if privacy.privacy_individual_tracking else None)
    return Response(content=b"", status_code=307, headers={"Location": url, **NO_INDEX})


@get("/campaign/{campaign_uuid:str}/{subscriber_uuid:str}/px.png",
     operation_id="publicViewPixel")
async def view_pixel(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_uuid: FromPath[str], subscriber_uuid: FromPath[str],
) -> Response[Any]:
    if not (is_uuid(campaign_uuid) and is_uuid(subscriber_uuid)):
        return _invalid_uuid()
    privacy = await runtime.live_settings.get()
    if not privacy.privacy_disable_tracking:
        individual = privacy.privacy_individual_tracking
        # listmonk skips the dummy hits of previews (its dummy uuids), unless the subscriber
        # is not recorded anyway (individual tracking off).
        if not individual or subscriber_uuid != _DUMMY:
            _recorder(request).view(campaign_uuid, subscriber_uuid if individual else None)
    return Response(content=PIXEL, status_code=200, media_type="image/png",
                    headers={"Cache-Control": "no-cache", **NO_INDEX})


_DUMMY = "00000000-0000-0000-0000-000000000000"


@get("/campaign/{campaign_uuid:str}/{subscriber_uuid:str}", operation_id="publicCampaignView")
async def campaign_view(
    runtime: NamedDependency[Runtime], campaign_uuid: FromPath[str],
    subscriber_uuid: FromPath[str],
) -> Response[str]:
    """The message as the subscriber got it (links and pixel tracked as in the e-mail)."""
    if not (is_uuid(campaign_uuid) and is_uuid(subscriber_uuid)):
        return _invalid_uuid()
    camp = await campaign_by_uuid(runtime.read_pool, campaign_uuid)
    if camp is None:
        return _page(error_page(CAMPAIGN_NOT_FOUND, status_code=404))
    sub = await subscriber_by_uuid(runtime.read_pool, subscriber_uuid)
    if sub is None:
        return _page(error_page(MESSAGE_NOT_FOUND, status_code=404))
    settings = await runtime.live_settings.get()
    content_type = camp["content_type"]
    template_body = None if content_type == "visual" else (camp["template_body"] or None)
    links: dict[str, str] = {}
    if not settings.privacy_disable_tracking:
        links = await register_links(runtime.pool, campaign_link_urls(
            camp["body"], content_type, template_body))
    funcs = campaign_funcs(root_url=settings.app_root_url.rstrip("/"), campaign_uuid=camp["uuid"],
                           link_uuid=links.get, i18n=I18n(ENGLISH),
                           disable_tracking=settings.privacy_disable_tracking,
                           individual_tracking=settings.privacy_individual_tracking)
    campaign = Campaign(ID=camp["id"], UUID=camp["uuid"], Name=camp["name"],
                        Subject=camp["subject"], FromEmail=camp["from_email"],
                        Tags=list(camp["tags"] or []), Type=camp["type"],
                        ContentType=content_type, Status=camp["status"],
                        CreatedAt=camp["created_at"], UpdatedAt=camp["updated_at"])
    subscriber = Subscriber(ID=sub["id"], UUID=sub["uuid"], Email=sub["email"],
                            Name=sub["name"], Attribs=dict(sub["attribs"] or {}),
                            Status=sub["status"], CreatedAt=sub["created_at"],
                            UpdatedAt=sub["updated_at"])
    try:
        compiled = compile_campaign_body(camp["body"], funcs=funcs, content_type=content_type,
                                         template_body=template_body)
        body = compiled.render(CampaignMessage(Campaign=campaign, Subscriber=subscriber))
    except TemplateError as exc:
        log.warning("campaign_view_failed", campaign_id=camp["id"], error=str(exc))
        return _page(error_page(FETCH_ERROR, status_code=500))
    return Response(content=body, status_code=200, media_type="text/html", headers=NO_INDEX)
