"""GET pages for subscribers, without credentials: the subscription form, the opt-in
confirmation page and the unsubscribe / preferences page (the links in e-mails lead here).

Pages only read; the forms they hold post to the command API (see
``services/command_api/public``). Unknown subscribers are a 404 page, malformed uuids a 400 page.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from postlog.runtime import Runtime
from services.http.pages import error_page, message_page
from services.query_api.public.queries import (
    PublicSubscriber,
    form_lists,
    is_uuid,
    subscriber_by_uuid,
)
from services.query_api.public.views import (
    BLOCKLISTED,
    INVALID_UUID,
    NO_LISTS,
    NOTHING_TO_CONFIRM,
    SUBSCRIBER_NOT_FOUND,
    form_page,
    manage_page,
    optin_page,
    unsubscribe_page,
)

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def truthy(value: str | None) -> bool:
    """Go's ``strconv.ParseBool`` reading of a form or query value (bad values are false)."""
    return value in _TRUE


async def find_subscriber(
    runtime: Runtime, *uuids: str
) -> PublicSubscriber | Response[str]:
    """The subscriber of the last of ``uuids``, after checking that all are uuids: else the
    error page to answer (400 for a malformed uuid, 404 for an unknown subscriber)."""
    if not all(is_uuid(u) for u in uuids):
        return error_page(INVALID_UUID, status_code=400)
    found = await subscriber_by_uuid(runtime.read_pool, uuids[-1])
    if found is None:
        return error_page(SUBSCRIBER_NOT_FOUND, status_code=404)
    return found


@get("/subscription/form", operation_id="publicSubscriptionFormPage")
async def subscription_form(runtime: NamedDependency[Runtime]) -> Response[str]:
    """Every active public list, ticked, with e-mail and name fields."""
    lists = await form_lists(runtime.read_pool)
    if not lists:
        return error_page(NO_LISTS, status_code=404)
    return form_page(lists)


@get("/subscription/optin/{subscriber_uuid:str}", operation_id="publicOptinPage")
async def optin(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_uuid: FromPath[str],
) -> Response[str]:
    """The unconfirmed subscriptions (of the lists ``?l=<uuid>`` when given) and a button to
    confirm them."""
    found = await find_subscriber(runtime, subscriber_uuid)
    if isinstance(found, Response):
        return found
    wanted = request.query_params.getall("l", [])
    if not all(is_uuid(u) for u in wanted):
        return error_page(INVALID_UUID, status_code=400)
    chosen = {u.lower() for u in wanted}
    pending = [s for s in found.subscriptions if s.status == "unconfirmed"
               and (not chosen or s.list_uuid.lower() in chosen)]
    if not pending:
        return message_page(*NOTHING_TO_CONFIRM)
    return optin_page(pending)


@get("/subscription/{campaign_uuid:str}/{subscriber_uuid:str}",
     operation_id="publicSubscriptionPage")
async def subscription(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_uuid: FromPath[str], subscriber_uuid: FromPath[str],
) -> Response[str]:
    """Unsubscribe page; with ``?manage=true`` the preferences page."""
    found = await find_subscriber(runtime, campaign_uuid, subscriber_uuid)
    if isinstance(found, Response):
        return found
    if found.status == "blocklisted":
        return message_page(*BLOCKLISTED)
    if truthy(request.query_params.get("manage")):
        return manage_page(found)
    return unsubscribe_page(found)


def public_page_routes() -> list[ControllerRouterHandler]:
    return [subscription_form, optin, subscription]
