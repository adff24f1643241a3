"""Command endpoints of campaigns: create, update, change status, archive, delete.

Each runs through the executor (idempotency, one transaction, nothing appended on failure) and
answers once the ``campaigns`` projection has caught up, with the JSON ``GET`` gives.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import psycopg
from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath
from psycopg.rows import tuple_row

from events.base import Event
from events.campaigns import CampaignCreated
from events.store import StreamAppend
from events.validation import check_json
from kernel.errors import Conflict, InvalidInput, NotFound
from readmodels.campaigns import fetch_campaign, ids_matching, render_campaign
from services.auth.guard import require_auth
from services.command_api.campaigns.audience import (
    compute_audience,
    resolve_lists,
    resolve_template,
)
from services.command_api.campaigns.binding import (
    CampaignRequest,
    archive_request,
    campaign_request,
    status_request,
)
from services.command_api.campaigns.commands import (
    CAMPAIGN_NOT_FOUND,
    Audience,
    CampaignCommand,
    ChangeStatus,
    CreateCampaign,
    DeleteCampaign,
    SetArchive,
    UpdateCampaign,
)
from services.command_api.campaigns.content import normalize_slug
from services.command_api.campaigns.decider import (
    CampaignState,
    Live,
    campaign_decider,
    stream_id,
)
from services.command_api.context import command_context
from services.command_api.decider import load
from services.command_api.each_stream import decide_each
from services.command_api.executor import Decision, execute
from services.command_api.respond import answer, run_command
from services.command_api.sequences import next_id
from services.http.binding import Form, read_body
from services.http.params import ids_or_query, path_id
from services.runtime import Runtime

PROJECTIONS = ("campaigns",)
SLUG_TAKEN = "Archive slug is already used by another campaign."
AnyRequest = Request[Any, Any, Any]
Conn = psycopg.AsyncConnection[Any]


def _now() -> datetime:
    return datetime.now(UTC)


async def _json_body(request: AnyRequest, form_fields: tuple[str, ...] = ()) -> bytes:
    """The request's JSON body; a form body (for ``form_fields``) as the same JSON."""

    def from_form(form: Form) -> bytes:
        return msgspec.json.encode({k: v[0] for k, v in form.items() if k in form_fields})

    return await read_body(request, bytes, from_form if form_fields else None, b"")


async def _decide(conn: Conn, campaign_id: int, command: CampaignCommand,
                  state: CampaignState | None = None, version: int = 0) -> StreamAppend:
    """Decide ``command`` on the campaign's stream (loaded unless given)."""
    if state is None:
        loaded, version = await load(conn, stream_id(campaign_id), campaign_decider)
        state = loaded
    events = campaign_decider.decide(state, command)
    return StreamAppend(stream_id=stream_id(campaign_id), expected_version=version,
                        events=events)


async def _run(request: AnyRequest, runtime: Runtime, campaign_id: int,
               decide: Callable[[Conn], Awaitable[StreamAppend]],
               read: Callable[[], Awaitable[Any]] | None = None) -> Response[bytes]:
    async def decision(conn: Conn) -> Decision:
        return Decision([await decide(conn)], {"campaign_id": campaign_id})

    if read is None:
        async def read() -> Any:
            return await fetch_campaign(runtime.read_pool, campaign_id)
    return await run_command(request, runtime, decision, PROJECTIONS, read)


def _create_command(req: CampaignRequest, runtime: Runtime, campaign_id: int,
                    campaign_uuid: str, lists: Any, template_id: int | None,
                    at: datetime) -> CreateCampaign:
    if req.campaign_type not in ("", "regular", "optin"):
        raise InvalidInput(f"Invalid campaign type: {req.campaign_type!r} (one of regular,"
                           " optin)")
    return CreateCampaign(
        campaign_id=campaign_id, uuid=campaign_uuid,
        campaign_type="optin" if req.campaign_type == "optin" else "regular",
        patch=req.patch, list_ids=req.list_ids, lists=lists, template_id=template_id,
        default_from_email=runtime.settings.from_email, at=at)


@post("/api/campaigns", guards=[require_auth], operation_id="createCampaign", status_code=200)
async def create_campaign(request: AnyRequest, runtime: NamedDependency[Runtime]
                          ) -> Response[bytes]:
    """Create a draft campaign with listmonk's defaults for what the request leaves out."""
    req = campaign_request(await _json_body(request))
    at = _now()
    created: list[Event] = []
    ctx = await command_context(request)

    async def decision(conn: Conn) -> Decision:
        lists = await resolve_lists(conn, req.list_ids)
        template_id, problem = await resolve_template(conn, req.template_id)
        # Validate before taking an id from the sequence.
        probe = _create_command(req, runtime, 0, "", lists, template_id, at)
        campaign_decider.decide(campaign_decider.initial, probe)
        if problem:
            raise InvalidInput(problem)
        new_id = await next_id(conn, "eventlog.campaign_id_seq")
        command = _create_command(req, runtime, new_id, str(uuid.uuid4()), lists, template_id,
                                  at)
        append = await _decide(conn, new_id, command)
        created[:] = append.events
        return Decision([append], {"campaign_id": new_id})

    outcome = await execute(runtime.pool, ctx, decision)
    campaign_id = int(outcome.result["campaign_id"])

    async def read() -> dict[str, Any] | None:
        found = await fetch_campaign(runtime.read_pool, campaign_id)
        if found is None and created and isinstance(created[0], CampaignCreated):
            return _from_event(created[0])  # the projection is late: answer from the event
        return found

    return await answer(runtime, ctx, outcome, PROJECTIONS, read)


def _from_event(e: CampaignCreated) -> dict[str, Any]:
    row = msgspec.to_builtins(e.content, builtin_types=(datetime,))
    row.update(id=e.campaign_id, uuid=e.uuid, type=e.campaign_type, status="draft",
               created_at=e.at, updated_at=e.at, views=0, clicks=0, bounces=0, to_send=0,
               sent=0, started_at=None)
    return render_campaign(row)


@put("/api/campaigns/{campaign_id:str}", guards=[require_auth],
     operation_id="updateCampaignById", status_code=200)
async def update_campaign(request: AnyRequest, runtime: NamedDependency[Runtime],
                          campaign_id: FromPath[str]) -> Response[bytes]:
    """Edit a draft, scheduled or paused campaign; absent fields keep their value, the
    lists must be sent every time (as in listmonk)."""
    target = path_id(campaign_id)
    req = campaign_request(await _json_body(request))
    at = _now()

    async def decide(conn: Conn) -> StreamAppend:
        state, version = await load(conn, stream_id(target), campaign_decider)
        if not isinstance(state, Live):
            raise NotFound(CAMPAIGN_NOT_FOUND)
        lists = await resolve_lists(conn, req.list_ids, state.content.lists)
        template_id, problem = await resolve_template(conn, req.template_id,
                                                      state.content.template_id)
        command = UpdateCampaign(campaign_id=target, patch=req.patch, list_ids=req.list_ids,
                                 lists=lists, template_id=template_id,
                                 default_from_email=runtime.settings.from_email, at=at)
        append = await _decide(conn, target, command, state, version)
        if problem:
            raise InvalidInput(problem)
        return append

    return await _run(request, runtime, target, decide)


@put("/api/campaigns/{campaign_id:str}/status", guards=[require_auth],
     operation_id="updateCampaignStatus", status_code=200)
async def update_status(request: AnyRequest, runtime: NamedDependency[Runtime],
                        campaign_id: FromPath[str]) -> Response[bytes]:
    """Move the campaign through listmonk's state machine; starting it records the audience
    the sender will deliver to."""
    target = path_id(campaign_id)
    status = status_request(await _json_body(request, ("status",)))
    at = _now()

    async def decide(conn: Conn) -> StreamAppend:
        state, version = await load(conn, stream_id(target), campaign_decider)
        audience = Audience()
        if isinstance(state, Live) and status == "running":
            audience = await compute_audience(conn, state)
        command = ChangeStatus(campaign_id=target, status=status, audience=audience, at=at)
        return await _decide(conn, target, command, state, version)

    return await _run(request, runtime, target, decide)


@put("/api/campaigns/{campaign_id:str}/archive", guards=[require_auth],
     operation_id="updateCampaignArchive", status_code=200)
async def update_archive(request: AnyRequest, runtime: NamedDependency[Runtime],
                         campaign_id: FromPath[str]) -> Response[bytes]:
    """Publish (or withdraw) the campaign on the public archive; answers the settings sent,
    with the slug normalised, as listmonk does."""
    target = path_id(campaign_id)
    req = archive_request(await _json_body(request))
    slug = normalize_slug(req.archive_slug)
    if req.archive_meta is not None:
        check_json(req.archive_meta, "archive_meta")
    command = SetArchive(campaign_id=target, archive=req.archive, archive_slug=slug,
                         archive_template_id=req.archive_template_id or None,
                         archive_meta=req.archive_meta, at=_now())

    async def decide(conn: Conn) -> StreamAppend:
        if slug is not None and await _slug_taken(conn, slug, target):
            raise Conflict(SLUG_TAKEN)
        return await _decide(conn, target, command)

    async def read() -> dict[str, Any]:
        return {"archive": req.archive, "archive_template_id": req.archive_template_id,
                "archive_meta": req.archive_meta, "archive_slug": slug or ""}

    return await _run(request, runtime, target, decide, read)


async def _slug_taken(conn: Conn, slug: str, campaign_id: int) -> bool:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT to_regclass('readmodel.campaigns') IS NOT NULL AND EXISTS (SELECT 1 FROM"
        " readmodel.campaigns WHERE archive_slug = %s AND id <> %s)", (slug, campaign_id))
    row = await cur.fetchone()
    return bool(row and row[0])


@delete("/api/campaigns/{campaign_id:str}", guards=[require_auth],
        operation_id="deleteCampaignById", status_code=200)
async def delete_campaign(request: AnyRequest, runtime: NamedDependency[Runtime],
                          campaign_id: FromPath[str]) -> Response[bytes]:
    target = path_id(campaign_id)
    command = DeleteCampaign(campaign_id=target, at=_now())

    async def read() -> bool:
        return True

    return await _run(request, runtime, target,
                      lambda conn: _decide(conn, target, command), read)


@delete("/api/campaigns", guards=[require_auth], operation_id="deleteCampaigns",
        status_code=200)
async def delete_campaigns(request: AnyRequest, runtime: NamedDependency[Runtime]
                           ) -> Response[bytes]:
    """``?id=1&id=2`` deletes those campaigns; else ``?query=words`` those whose name or
    subject match, and ``?all=true`` every campaign. Unknown ids are ignored, like listmonk."""
    ids, search = ids_or_query(request.query_params)
    at = _now()

    async def decide(conn: Conn) -> Decision:
        targets = ids if ids is not None else await ids_matching(conn, search)
        return await decide_each(targets, lambda target: _decide(
            conn, target, DeleteCampaign(campaign_id=target, at=at)))

    return await run_command(request, runtime, decide, PROJECTIONS)
