"""Command routes of campaigns: create, update, change status, archive, delete one or many.

Each binds the request, calls one handler (``handlers.py``) through the executor (idempotency,
one transaction, nothing appended on failure) and answers once the ``campaigns`` projection has
caught up, with the JSON ``GET`` gives.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.campaigns import CampaignCreated
from events.store import read_stream
from events.validation import check_json
from readmodels.campaigns import fetch_campaign, ids_matching, render_campaign
from services.auth.guard import current_user, require_auth
from services.command_api.campaigns import handlers
from services.command_api.campaigns.access import manageable_campaigns, require_campaign
from services.command_api.campaigns.binding import (
    CampaignRequest,
    archive_request,
    campaign_request,
    status_request,
)
from services.command_api.campaigns.commands import ChangeStatus, DeleteCampaign, SetArchive
from services.command_api.campaigns.content import normalize_slug
from services.command_api.campaigns.decider import stream_id
from services.command_api.campaigns.lookups import LOOKUPS
from services.command_api.campaigns.messengers import enabled_messengers, messengers_port
from services.command_api.context import command_context
from services.command_api.executor import execute_handler
from services.command_api.respond import answer, run_handler
from services.command_api.store import Handler
from services.http.binding import Form, read_body
from services.http.params import ids_or_query, path_id
from services.runtime import Runtime

PROJECTIONS = ("campaigns", "media")  # media: the campaign's attachments
AnyRequest = Request[Any, Any, Any]


def _now() -> datetime:
    return datetime.now(UTC)


async def _from_email(runtime: Runtime) -> str:
    """The From of a campaign created without one: the settings' ``app.from_email``."""
    return (await runtime.live_settings.get()).app_from_email


async def _messengers(runtime: Runtime) -> tuple[str, ...]:
    """The messengers a campaign may name now: ``email`` and those the settings enable."""
    return tuple(dict.fromkeys(["email", *enabled_messengers(await runtime.live_settings.get())]))


async def _json_body(request: AnyRequest, form_fields: tuple[str, ...] = ()) -> bytes:
    """The request's JSON body; a form body (for ``form_fields``) as the same JSON."""

    def from_form(form: Form) -> bytes:
        return msgspec.json.encode({k: v[0] for k, v in form.items() if k in form_fields})

    return await read_body(request, bytes, from_form if form_fields else None, b"")


@post("/api/campaigns", guards=[require_auth], operation_id="createCampaign", status_code=200)
async def create_campaign(request: AnyRequest, runtime: NamedDependency[Runtime]
                          ) -> Response[bytes]:
    """Create a draft campaign with listmonk's defaults for what the request leaves out.
    Lists the caller's list role does not reach are dropped (listmonk)."""
    new = handlers.NewCampaign(request=_own_lists(request, await _json_body(request)),
                               uuid=str(uuid.uuid4()),
                               default_from_email=await _from_email(runtime), at=_now(),
                               messengers=await _messengers(runtime))
    ctx = await command_context(request)
    outcome = await execute_handler(runtime.pool, ctx,
                                    partial(handlers.create_campaign, new), ports=LOOKUPS)
    campaign_id = int(outcome.result["campaign_id"])

    async def read() -> dict[str, Any] | None:
        found = await fetch_campaign(runtime.read_pool, campaign_id)
        if found is None:  # the projection is late: answer from the log
            return await _created_from_log(runtime, campaign_id)
        return found

    return await answer(runtime, ctx, outcome, PROJECTIONS, read)


def _own_lists(request: AnyRequest, body: bytes) -> CampaignRequest:
    """The bound request with only the lists the caller may put a campaign on."""
    req = campaign_request(body)
    return dataclasses.replace(
        req, list_ids=current_user(request).campaign_target_lists(req.list_ids))


async def _created_from_log(runtime: Runtime, campaign_id: int) -> dict[str, Any] | None:
    """The campaign as its ``campaign.created`` event tells it (what ``GET`` shows once the
    projection has it)."""
    async with runtime.pool.connection() as conn:
        recorded = await read_stream(conn, stream_id(campaign_id))
    first = recorded[0].decode() if recorded else None
    return _from_event(first) if isinstance(first, CampaignCreated) else None


def _from_event(e: CampaignCreated) -> dict[str, Any]:
    row = msgspec.to_builtins(e.content, builtin_types=(datetime,))
    row.update(id=e.campaign_id, uuid=e.uuid, type=e.campaign_type, status="draft",
               created_at=e.at, updated_at=e.at, views=0, clicks=0, bounces=0, to_send=0,
               sent=0, started_at=None)
    return render_campaign(row)


async def _run(request: AnyRequest, runtime: Runtime, campaign_id: int,
               handler: Handler) -> Response[bytes]:
    """Run ``handler`` (given the campaign lookups) and answer with the campaign as ``GET``
    shows it."""
    return await run_handler(request, runtime, handler, PROJECTIONS,
                             lambda: fetch_campaign(runtime.read_pool, campaign_id),
                             ports=LOOKUPS)


@put("/api/campaigns/{campaign_id:str}", guards=[require_auth],
     operation_id="updateCampaignById", status_code=200)
async def update_campaign(request: AnyRequest, runtime: NamedDependency[Runtime],
                          campaign_id: FromPath[str]) -> Response[bytes]:
    """Edit a draft, scheduled or paused campaign; absent fields keep their value, the
    lists must be sent every time (as in listmonk)."""
    target = path_id(campaign_id)
    await require_campaign(request, runtime, "manage", target)
    edit = handlers.CampaignEdit(campaign_id=target,
                                 request=_own_lists(request, await _json_body(request)),
                                 default_from_email=await _from_email(runtime), at=_now(),
                                 messengers=await _messengers(runtime))
    return await _run(request, runtime, target, partial(handlers.update_campaign, edit))


@put("/api/campaigns/{campaign_id:str}/status", guards=[require_auth],
     operation_id="updateCampaignStatus", status_code=200)
async def update_status(request: AnyRequest, runtime: NamedDependency[Runtime],
                        campaign_id: FromPath[str]) -> Response[bytes]:
    """Move the campaign through listmonk's state machine; starting it records the audience
    the sender will deliver to."""
    target = path_id(campaign_id)
    await require_campaign(request, runtime, "manage", target)
    status = status_request(await _json_body(request, ("status",)))
    command = ChangeStatus(campaign_id=target, status=status, at=_now())
    return await run_handler(request, runtime, partial(handlers.change_status, command),
                             PROJECTIONS, lambda: fetch_campaign(runtime.read_pool, target),
                             ports={**LOOKUPS,
                                    "messengers": messengers_port(runtime.live_settings)})


@put("/api/campaigns/{campaign_id:str}/archive", guards=[require_auth],
     operation_id="updateCampaignArchive", status_code=200)
async def update_archive(request: AnyRequest, runtime: NamedDependency[Runtime],
                         campaign_id: FromPath[str]) -> Response[bytes]:
    """Publish (or withdraw) the campaign on the public archive; answers the settings sent,
    with the slug normalised, as listmonk does."""
    target = path_id(campaign_id)
    await require_campaign(request, runtime, "manage", target)
    req = archive_request(await _json_body(request))
    slug = normalize_slug(req.archive_slug)
    if req.archive_meta is not None:
        check_json(req.archive_meta, "archive_meta")
    command = SetArchive(campaign_id=target, archive=req.archive, archive_slug=slug,
                         archive_template_id=req.archive_template_id or None,
                         archive_meta=req.archive_meta, at=_now())

    async def read() -> dict[str, Any]:
        return {"archive": req.archive, "archive_template_id": req.archive_template_id,
                "archive_meta": req.archive_meta, "archive_slug": slug or ""}

    return await run_handler(request, runtime,
                             partial(handlers.set_archive, command),
                             PROJECTIONS, read, ports=LOOKUPS)


@delete("/api/campaigns/{campaign_id:str}", guards=[require_auth],
        operation_id="deleteCampaignById", status_code=200)
async def delete_campaign(request: AnyRequest, runtime: NamedDependency[Runtime],
                          campaign_id: FromPath[str]) -> Response[bytes]:
    """Delete one campaign (404 if there is none)."""
    command = DeleteCampaign(campaign_id=path_id(campaign_id), at=_now())
    await require_campaign(request, runtime, "manage", command.campaign_id)

    async def read() -> bool:
        return True

    return await run_handler(request, runtime, partial(handlers.delete_campaign, command),
                             PROJECTIONS, read)


@delete("/api/campaigns", guards=[require_auth], operation_id="deleteCampaigns",
        status_code=200)
async def delete_campaigns(request: AnyRequest, runtime: NamedDependency[Runtime]
                           ) -> Response[bytes]:
    """``?id=1&id=2`` deletes those campaigns; else ``?query=words`` those whose name or
    subject match, and ``?all=true`` every campaign. Unknown ids are ignored, like listmonk."""
    ids, search = ids_or_query(request.query_params)
    if ids is None:
        async with runtime.read_pool.connection() as conn:
            ids = await ids_matching(conn, search)
    ids = await manageable_campaigns(request, runtime, ids)  # the others are skipped
    return await run_handler(request, runtime,
                             partial(handlers.delete_campaigns, ids, _now()), PROJECTIONS)
