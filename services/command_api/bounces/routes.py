"""Command routes of bounces (listmonk's ``cmd/bounce.go``):

- ``POST /webhooks/bounce`` (``webhooks:post_bounce``): record one bounce, listmonk's body;
- ``POST /webhooks/service/{ses,sendgrid,postmark,forwardemail,azure,lettermint}`` (public):
  a provider's webhook, verified as listmonk verifies it (``webhooks/``);
- ``DELETE /api/bounces`` (``?id=..`` or ``?all=true``), ``DELETE /api/bounces/:id``,
  ``PUT /api/bounces/blocklist`` (``bounces:manage``).

The webhooks follow the ``bounce.*`` settings in force (``runtime.live_settings``): with
``bounce.webhooks_enabled`` off they are not there (404, listmonk does not register them), with
``bounce.enabled`` off they answer 503, a provider that is off is "Unknown service." (400). A
refused request (bad signature, credentials or body) records nothing. Each bounce is its own
command (a provider's through ``intake.record_each``, so one failure does not stop the others;
the native webhook's one command as any command route, ``Idempotency-Key`` included); the
answer (``{"data": true}``, as listmonk) waits until the read models have them.

Deleting and blocklisting find the subscribers concerned in the ``bounces`` read model (what
the caller sees; the same choice as the by-query commands, docs/bounces.md), then decide on
each subscriber's stream, in transactions of ``BATCH_SIZE`` subscribers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import structlog
from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.crypto import master_key_from
from events.settings import AppSettings
from events.store import Position
from kernel.errors import InvalidInput
from readmodels.bounces import bounce_owners, bounced_subscribers
from services.auth.guard import require_auth
from services.command_api.bounces import handlers
from services.command_api.bounces.handlers import BounceToRecord
from services.command_api.bounces.intake import BounceInput, checked, record_each
from services.command_api.bounces.lookups import PostgresBounceLookups, is_uuid
from services.command_api.bounces.webhooks import (
    azure,
    forwardemail,
    lettermint,
    postmark,
    sendgrid,
)
from services.command_api.bounces.webhooks.common import WebhookRefused, go_time, zero_to_none
from services.command_api.bounces.webhooks.ses import SES
from services.command_api.context import command_context
from services.command_api.executor import CommandContext, CommandOutcome, execute_handler
from services.command_api.respond import answer
from services.command_api.store import Handler
from services.command_api.subscribers.fields import sanitize_email
from services.command_api.subscribers.routing import PROJECTIONS, now
from services.http.binding import bind_object, string_field
from services.http.errors import PAGE_NOT_FOUND, APIError, error_response
from services.http.params import go_atoi, go_bool, path_id
from services.runtime import Runtime

log = structlog.get_logger(__name__)

BATCH_SIZE = 1000
INVALID_ID = "Invalid ID(s)"
INVALID_DATA = "Invalid data"
INVALID_FIELDS = "Invalid fields: {}"
UNKNOWN_SERVICE = "Unknown service."
INTERNAL_ERROR = "Internal server error"
STATE_KEY = "bounce_webhooks"
_FIELDS = ("email", "subscriber_uuid", "campaign_uuid", "type", "source", "meta", "created_at")


@dataclasses.dataclass
class BounceWebhooks:
    """What the provider webhooks keep per process (SES's certificate cache). A test may put
    its own in ``app.state`` (``STATE_KEY``), e.g. an ``SES`` accepting its own certificate
    URL."""

    ses: SES = dataclasses.field(default_factory=SES)


def webhooks_of(request: Request[Any, Any, Any]) -> BounceWebhooks:
    state = request.app.state
    found = state.get(STATE_KEY)
    if not isinstance(found, BounceWebhooks):
        found = BounceWebhooks()
        state[STATE_KEY] = found
    return found


async def _bounce_settings(runtime: Runtime) -> AppSettings:
    """The settings in force, if the webhooks are on (404 when not there, 503 when bounce
    processing is off, as listmonk)."""
    live = await runtime.live_settings.get()
    if not live.bounce_webhooks_enabled:
        raise APIError(404, PAGE_NOT_FOUND)
    if not live.bounce_enabled:
        raise APIError(503, INTERNAL_ERROR)
    return live


@post("/webhooks/bounce", guards=[require_auth], operation_id="postBounceWebhook",
      status_code=200)
async def bounce_webhook(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                         ) -> Response[bytes]:
    """Record one bounce named by ``email`` or ``subscriber_uuid``."""
    live = await _bounce_settings(runtime)
    body = await request.body()
    try:
        data = bind_object(body, _FIELDS)
        fields = {name: string_field(data, name) or ""
                  for name in ("email", "subscriber_uuid", "campaign_uuid", "type", "source")}
        at = zero_to_none(go_time(data.get("created_at"), "created_at"))
    except InvalidInput as exc:
        raise APIError(400, f"{INVALID_DATA}:{exc.message}") from None
    except WebhookRefused as exc:
        raise APIError(400, f"{INVALID_DATA}:{exc.reason}") from None
    if not fields["email"] and not fields["subscriber_uuid"]:
        raise APIError(400, INVALID_FIELDS.format("email / subscriber_uuid"))
    if fields["subscriber_uuid"] and not is_uuid(fields["subscriber_uuid"]):
        raise APIError(400, INVALID_FIELDS.format("subscriber_uuid"))
    email = sanitize_email(fields["email"]) if fields["email"] else ""
    if fields["type"] not in ("soft", "hard", "complaint"):
        raise APIError(400, INVALID_FIELDS.format("type"))
    meta = data.get("meta")
    bounce = checked(BounceInput(
        kind=fields["type"],  # type: ignore[arg-type]  # checked just above
        source=fields["source"], email=email, subscriber_uuid=fields["subscriber_uuid"],
        campaign_uuid=fields["campaign_uuid"], meta={} if meta is None else meta,
        created_at=at), live.bounce_actions, strict=True)
    # One bounce, one command, run as any command route runs its own: an Idempotency-Key
    # holds, and a failure is the caller's answer (not logged away).
    ctx = await command_context(request)
    outcome = await execute_handler(
        runtime.pool, ctx, partial(handlers.record_bounce, bounce),
        master_key=master_key_from(runtime.settings.master_key),
        ports={"bounces": PostgresBounceLookups})
    return await answer(runtime, ctx, outcome, PROJECTIONS)


@post("/webhooks/service/{service:str}", operation_id="postBounceWebhookService",
      status_code=200)
async def service_webhook(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                          service: FromPath[str]) -> Response[bytes]:
    """A mail provider's bounce notification (or subscription handshake)."""
    live = await _bounce_settings(runtime)
    body = await request.body()
    headers = request.headers
    try:
        if service == "ses" and live.bounce_ses_enabled:
            ses = webhooks_of(request).ses
            kind = headers.get("x-amz-sns-message-type", "")
            if kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
                await ses.process_subscription(body)
                return _true()
            if kind != "Notification":
                raise WebhookRefused(f"unknown SNS message type {kind[:50]!r}")
            found = [await ses.process_bounce(body)]
        elif service == "azure" and live.bounce_azure.enabled:
            kind = headers.get("aeg-event-type", "")
            if kind in ("SubscriptionValidation", "SubscriptionValidationEvent"):
                return Response(content=azure.validation_response(body), status_code=200,
                                media_type="application/json")
            if kind not in ("", "Notification"):
                raise WebhookRefused(f"unknown event grid type {kind[:50]!r}")
            found = azure.process(live.bounce_azure,
                                  request.query_params.get(azure.SECRET_PARAM) or "",
                                  headers, body)
        elif (service == "sendgrid" and live.bounce_sendgrid_enabled
              and (key := sendgrid.public_key(live.bounce_sendgrid_key)) is not None):
            found = sendgrid.process(key, headers.get(sendgrid.SIGNATURE_HEADER, ""),
                                     headers.get(sendgrid.TIMESTAMP_HEADER, ""), body)
        elif service == "postmark" and live.bounce_postmark.enabled:
            found = postmark.process(live.bounce_postmark, headers.get("authorization", ""),
                                     body)
        elif service == "forwardemail" and live.bounce_forwardemail.enabled:
            found = forwardemail.process(live.bounce_forwardemail.key,
                                         headers.get(forwardemail.SIGNATURE_HEADER, ""), body)
        elif service == "lettermint" and live.bounce_lettermint.enabled:
            found = lettermint.process(live.bounce_lettermint.key,
                                       headers.get(lettermint.SIGNATURE_HEADER, ""), body)
        else:
            raise APIError(400, UNKNOWN_SERVICE)
    except WebhookRefused as exc:
        log.warning("bounce_webhook_refused", service=service, reason=exc.reason)
        return error_response(exc.status, exc.message, exc.headers or None)
    ready: list[BounceToRecord] = []
    for bounce in found:
        try:
            ready.append(checked(bounce, live.bounce_actions))
        except (InvalidInput, ValueError) as exc:
            log.warning("bounce_refused", service=service, error=str(exc))
    ctx = dataclasses.replace(await command_context(request),
                              actor=f"webhook:{service}")
    return await _record(runtime, ctx, ready)


async def _record(runtime: Runtime, ctx: CommandContext, bounces: Sequence[BounceToRecord]
                  ) -> Response[bytes]:
    done = await record_each(runtime.pool, ctx, bounces,
                             master_key=master_key_from(runtime.settings.master_key))
    if done.failed and not done.ran:
        # Nothing was recorded (the database is down...): the provider may send it again.
        raise APIError(503, INTERNAL_ERROR)
    if done.position is not None and not await runtime.waiter.wait(done.position,
                                                                    PROJECTIONS):
        log.warning("read_your_writes_timeout", position=str(done.position))
    return _true()


def _true() -> Response[bytes]:
    return Response(content=b'{"data":true}', status_code=200, media_type="application/json")


def _ids(raw: list[str]) -> list[int]:
    """listmonk's ``parseStringIDs`` with its DELETE /api/bounces message."""
    ids = [go_atoi(value) for value in raw]
    if not ids or any(i is None or i < 1 for i in ids):
        raise APIError(400, INVALID_ID)
    return [i for i in ids if i is not None]


@delete("/api/bounces", guards=[require_auth], operation_id="deleteBounces", status_code=200)
async def delete_bounces(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                         ) -> Response[bytes]:
    """Delete the bounces of ``?id=..`` (repeated), or every bounce with ``?all=true``."""
    if go_bool(request.query_params.get("all")):
        subscribers = await bounced_subscribers(runtime.read_pool)
        return await _in_batches(request, runtime, subscribers,
                                 lambda batch, at: partial(handlers.delete_bounces, batch, at))
    return await _delete_ids(request, runtime, _ids(request.query_params.getall("id", [])))


@delete("/api/bounces/{bounce_id:str}", guards=[require_auth], operation_id="deleteBounceById",
        status_code=200)
async def delete_bounce(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                        bounce_id: FromPath[str]) -> Response[bytes]:
    """Delete one bounce (an unknown id deletes nothing and answers true, as listmonk)."""
    return await _delete_ids(request, runtime, [path_id(bounce_id)])


async def _delete_ids(request: Request[Any, Any, Any], runtime: Runtime, ids: list[int]
                      ) -> Response[bytes]:
    owners = await bounce_owners(runtime.read_pool, ids)
    by_subscriber: dict[int, list[int]] = {}
    for bounce_id, subscriber_id in owners.items():
        by_subscriber.setdefault(subscriber_id, []).append(bounce_id)
    at = now()
    ctx = await command_context(request)
    outcome = await execute_handler(
        runtime.pool, ctx, partial(handlers.delete_bounces, by_subscriber, at),
        master_key=master_key_from(runtime.settings.master_key))
    return await answer(runtime, ctx, outcome, PROJECTIONS)


@put("/api/bounces/blocklist", guards=[require_auth], operation_id="blocklistBouncedSubscribers",
     status_code=200)
async def blocklist_bounced(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                            ) -> Response[bytes]:
    """Blocklist every subscriber with bounces and unsubscribe it from its lists."""
    subscribers = await bounced_subscribers(runtime.read_pool)
    return await _in_batches(request, runtime, subscribers,
                             lambda batch, at: partial(handlers.blocklist_bounced, batch, at))


async def _in_batches(request: Request[Any, Any, Any], runtime: Runtime,
                      subscriber_ids: Sequence[int],
                      for_batch: Callable[[Sequence[int], datetime], Handler]
                      ) -> Response[bytes]:
    """One command per ``BATCH_SIZE`` subscribers (each all-or-nothing; running the request
    again finishes an interrupted one, every operation here being idempotent). An
    ``Idempotency-Key`` holds when one command is enough."""
    ctx = await command_context(request)
    at = now()
    master_key = master_key_from(runtime.settings.master_key)
    if len(subscriber_ids) <= BATCH_SIZE:
        outcome = await execute_handler(runtime.pool, ctx, for_batch(subscriber_ids, at),
                                        master_key=master_key)
        return await answer(runtime, ctx, outcome, PROJECTIONS)
    batch_ctx = dataclasses.replace(ctx, idempotency_key="", fingerprint="")
    position: Position | None = None
    appended = 0
    for start in range(0, len(subscriber_ids), BATCH_SIZE):
        done = await execute_handler(
            runtime.pool, batch_ctx, for_batch(subscriber_ids[start:start + BATCH_SIZE], at),
            master_key=master_key)
        position = done.position or position
        appended += done.appended
    return await answer(runtime, batch_ctx, CommandOutcome(position=position, result={},
                                                           appended=appended), PROJECTIONS)
