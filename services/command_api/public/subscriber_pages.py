"""The POST side of the subscriber pages (links in e-mails), without credentials:

- ``/subscription/optin/:subUUID``: confirm the unconfirmed subscriptions (of the lists ``l``).
- ``/subscription/:campUUID/:subUUID``: unsubscribe from the campaign's lists (also the RFC 8058
  one-click POST, body ``List-Unsubscribe=One-Click``), from everything with
  ``blocklist=true`` (while ``privacy.allow_blocklist``), or with ``manage=true`` save the
  name and unsubscribe from the (non-private) lists not ticked in ``l`` (while
  ``privacy.allow_preferences``, else a 400 page).
- ``/subscription/export/:subUUID``: the subscriber's data as a JSON download (while
  ``privacy.allow_export``).
- ``/subscription/wipe/:subUUID``: delete and erase the subscriber, exactly as
  ``DELETE /api/subscribers/:id`` does (crypto-shredding; while ``privacy.allow_wipe``).

The ``privacy.*`` settings are read live at each request, as listmonk's handlers read them.

Each answers with a page; a malformed uuid is a 400 page, an unknown subscriber a 404 page.
The subscriber is found by uuid in the read model, then one handler
(``public/handlers.py``, the wipe ``handlers_bulk.delete_subscribers``) decides on
it from its event stream.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.crypto import master_key_from
from kernel.errors import DomainError
from readmodels.public import export_of, is_uuid
from services.command_api.executor import CommandOutcome, execute_handler
from services.command_api.public import handlers as handlers_public
from services.command_api.public.forms import form_values, public_context, settle
from services.command_api.store import Handler
from services.command_api.subscribers import handlers_bulk
from services.command_api.subscribers.fields import INVALID_NAME, valid_name
from services.command_api.subscribers.routing import now
from services.http.errors import APIError
from services.http.pages import error_page, message_page
from services.http.params import go_bool
from services.http.public_views import (
    BLOCKLISTED,
    CONFIRMED,
    DATA_WIPED,
    FEATURE_OFF,
    INVALID_UUID,
    NOTHING_TO_CONFIRM,
    PREFERENCES_SAVED,
    SUBSCRIBER_NOT_FOUND,
    UNSUBSCRIBED,
    PrivacyOptions,
    find_subscriber,
)
from services.runtime import Runtime

MANAGE_NAME_MAX_BYTES = 256


async def _execute(request: Request[Any, Any, Any], runtime: Runtime, handler: Handler
                   ) -> CommandOutcome:
    """Run ``handler`` as the visitor's command."""
    return await execute_handler(runtime.pool, await public_context(request), handler,
                                 master_key=master_key_from(runtime.settings.master_key))


async def _run(request: Request[Any, Any, Any], runtime: Runtime, handler: Handler
               ) -> CommandOutcome | Response[str]:
    """Run a page's handler and wait for the read models to show it: its outcome, or the
    error page to answer (404 for a subscriber that does not exist any more)."""
    try:
        outcome = await _execute(request, runtime, handler)
    except DomainError as exc:
        message = SUBSCRIBER_NOT_FOUND if exc.status_code == 404 else exc.message
        return error_page(message, status_code=exc.status_code)
    await settle(runtime, outcome)
    return outcome


@post("/subscription/optin/{subscriber_uuid:str}", operation_id="publicOptinConfirm",
      status_code=200)
async def confirm_optin(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_uuid: FromPath[str],
) -> Response[str]:
    """Confirm the subscriber's unconfirmed subscriptions (only those of the lists ``l``, when
    given)."""
    found = await find_subscriber(runtime.read_pool, subscriber_uuid)
    if isinstance(found, Response):
        return found
    try:
        values = await form_values(request, with_query=True)
    except APIError as exc:
        return error_page(exc.message, status_code=exc.status_code)
    chosen = frozenset(u.lower() for u in values.get("l", []))
    if not all(is_uuid(u) for u in chosen):
        return error_page(INVALID_UUID, status_code=400)
    done = await _run(request, runtime, partial(handlers_public.confirm_subscriptions,
                                                found.id, chosen, now()))
    if isinstance(done, Response):
        return done
    return message_page(*(CONFIRMED if done.result.get("changed") else NOTHING_TO_CONFIRM))


@post("/subscription/{campaign_uuid:str}/{subscriber_uuid:str}",
      operation_id="publicSubscriptionPrefs", status_code=200)
async def unsubscribe(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_uuid: FromPath[str], subscriber_uuid: FromPath[str],
) -> Response[str]:
    """Unsubscribe (one click), blocklist, or save preferences (``manage=true``)."""
    found = await find_subscriber(runtime.read_pool, campaign_uuid, subscriber_uuid)
    if isinstance(found, Response):
        return found
    try:
        values = await form_values(request)
    except APIError as exc:
        return error_page(exc.message, status_code=exc.status_code)
    first = {key: items[0] for key, items in values.items() if items}
    options = PrivacyOptions.of(await runtime.live_settings.get())
    # As listmonk: a blocklist request counts only while blocklisting is allowed (otherwise
    # it is a plain unsubscribe, or the preferences when managing them).
    blocklist = options.blocklist and go_bool(first.get("blocklist"))
    manage = go_bool(first.get("manage"))
    at = now()
    if blocklist or not manage:
        handler: Handler = (
            partial(handlers_public.blocklist_subscriber, found.id, at) if blocklist
            else partial(handlers_public.unsubscribe_from_campaign, found.id, campaign_uuid, at))
        done = await _run(request, runtime, handler)
        if isinstance(done, Response):
            return done
        return message_page(*(BLOCKLISTED if blocklist else UNSUBSCRIBED))

    if not options.preferences:
        return error_page(FEATURE_OFF, status_code=400)
    raw_name = first.get("name", "")
    try:
        name = valid_name(raw_name)
    except DomainError as exc:
        return error_page(exc.message, status_code=400)
    if not name or len(name.encode()) > MANAGE_NAME_MAX_BYTES:
        return error_page(INVALID_NAME, status_code=400)
    preferences = handlers_public.Preferences(
        subscriber_id=found.id, name=name,
        kept_list_uuids=frozenset(u.lower() for u in values.get("l", [])), at=at)
    done = await _run(request, runtime, partial(handlers_public.save_preferences, preferences))
    if isinstance(done, Response):
        return done
    return message_page(*PREFERENCES_SAVED)


@post("/subscription/export/{subscriber_uuid:str}", operation_id="publicSubscriberExport",
      status_code=200)
async def export_data(
    runtime: NamedDependency[Runtime], subscriber_uuid: FromPath[str]
) -> Response[Any]:
    """The subscriber's data (profile, subscriptions, views, clicks) as ``data.json``
    (refused while ``privacy.allow_export`` is off)."""
    found = await find_subscriber(runtime.read_pool, subscriber_uuid)
    if isinstance(found, Response):
        return found
    if not (await runtime.live_settings.get()).privacy_allow_export:
        return error_page(FEATURE_OFF, status_code=400)
    data = await export_of(runtime.read_pool, subscriber_uuid)
    if data is None:
        return error_page(SUBSCRIBER_NOT_FOUND, status_code=404)
    body = msgspec.json.format(msgspec.json.encode(data), indent=2)
    return Response(content=body, status_code=200, media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="data.json"',
                             "Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


@post("/subscription/wipe/{subscriber_uuid:str}", operation_id="publicSubscriberWipe",
      status_code=200)
async def wipe_data(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_uuid: FromPath[str],
) -> Response[str]:
    """Delete the subscriber and erase its personal data (its data key is destroyed in the
    same transaction, as ``DELETE /api/subscribers/:id`` does); refused while
    ``privacy.allow_wipe`` is off."""
    found = await find_subscriber(runtime.read_pool, subscriber_uuid)
    if isinstance(found, Response):
        return found
    if not (await runtime.live_settings.get()).privacy_allow_wipe:
        return error_page(FEATURE_OFF, status_code=400)
    await settle(runtime, await _execute(
        request, runtime, partial(handlers_bulk.delete_subscribers, (found.id,), now())))
    return message_page(*DATA_WIPED)
