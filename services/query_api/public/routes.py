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

from readmodels.public import (
    form_lists,
    is_uuid,
)
from services.http.pages import Html, error_page, message_page
from services.http.params import go_bool
from services.http.public_views import (
    BLOCKLISTED,
    INVALID_UUID,
    NO_LISTS,
    NOTHING_TO_CONFIRM,
    PrivacyOptions,
    captcha_widget,
    find_subscriber,
    form_page,
    manage_page,
    optin_page,
    unsubscribe_page,
)
from services.runtime import Runtime
from services.server_info import captcha


@get("/subscription/form", operation_id="publicSubscriptionFormPage")
async def subscription_form(runtime: NamedDependency[Runtime]) -> Response[str]:
    """Every active public list, ticked, with e-mail and name fields."""
    lists = await form_lists(runtime.read_pool)
    if not lists:
        return error_page(NO_LISTS, status_code=404)
    return form_page(lists, await _captcha(runtime))


async def _captcha(runtime: Runtime) -> tuple[Html, dict[str, str]]:
    """The form's captcha (``security.captcha``): an altcha challenge signed now, or hCaptcha."""
    settings = await runtime.live_settings.get()
    kind = captcha.provider(settings)
    challenge = None
    if kind == "altcha":
        challenge = captcha.new_challenge(await captcha.hmac_key(runtime.pool),
                                          settings.security_captcha.altcha.complexity)
    return captcha_widget(kind, challenge=challenge,
                          hcaptcha_key=settings.security_captcha.hcaptcha.key)


@get("/subscription/optin/{subscriber_uuid:str}", operation_id="publicOptinPage")
async def optin(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_uuid: FromPath[str],
) -> Response[str]:
    """The unconfirmed subscriptions (of the lists ``?l=<uuid>`` when given) and a button to
    confirm them."""
    found = await find_subscriber(runtime.read_pool, subscriber_uuid)
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
    """Unsubscribe page; with ``?manage=true`` the preferences page. The live
    ``privacy.allow_*`` settings decide which options the pages offer (without
    ``allow_preferences``, ``manage=true`` shows the unsubscribe page)."""
    found = await find_subscriber(runtime.read_pool, campaign_uuid, subscriber_uuid)
    if isinstance(found, Response):
        return found
    if found.status == "blocklisted":
        return message_page(*BLOCKLISTED)
    options = PrivacyOptions.of(await runtime.live_settings.get())
    if options.preferences and go_bool(request.query_params.get("manage")):
        return manage_page(found, options)
    return unsubscribe_page(found, options)


# listmonk's robots.txt: the sign-up form may be indexed, the per-subscriber pages and the
# links of e-mails may not (the archive may).
ROBOTS_TXT = """User-agent: *
Allow: /subscription/form
Disallow: /subscription/
Disallow: /campaign/
Disallow: /link/
"""


@get("/robots.txt", operation_id="robotsTxt")
async def robots_txt() -> Response[str]:
    return Response(content=ROBOTS_TXT, status_code=200, media_type="text/plain")
