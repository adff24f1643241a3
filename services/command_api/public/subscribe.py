"""Public sign-up: ``POST /api/public/subscription`` (JSON or form) and the HTML form's
``POST /subscription/form``. No credentials.

As listmonk: the e-mail is validated and lower-cased, an empty name becomes the e-mail's local
part, lists are named by uuid (``list_uuids`` in JSON, repeated ``l`` in forms) and a private
list refuses the whole request. A new e-mail creates an enabled subscriber with ``unconfirmed``
subscriptions; a known one is subscribed again (confirmed subscriptions stay confirmed, the name
is not changed). ``has_optin`` tells whether an opt-in e-mail goes out (unconfirmed
subscriptions to double opt-in lists, and ``app.send_optin_confirmation`` on). Unlike listmonk,
a request naming no existing list is refused instead of creating a subscriber without lists.
The command is the handler ``public.handlers.sign_up_subscriber``.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from functools import partial
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from events.crypto import master_key_from
from kernel.errors import Conflict, DomainError, InvalidInput
from readmodels.public import is_uuid
from services.command_api.executor import CommandContext, CommandOutcome, execute_handler
from services.command_api.public.forms import form_values, public_context, settle
from services.command_api.public.handlers import NO_LISTS, SignUp, sign_up_subscriber
from services.command_api.respond import answer
from services.command_api.subscribers.domains import DomainPolicy
from services.command_api.subscribers.fields import INVALID_EMAIL, sanitize_email, valid_name
from services.command_api.subscribers.index import EMAIL_EXISTS
from services.command_api.subscribers.routing import PROJECTIONS, now
from services.http.binding import bind_object, go_kind, string_field, type_error
from services.http.errors import APIError
from services.http.pages import error_page
from services.http.public_views import INVALID_UUID, subscribed_page
from services.runtime import Runtime
from services.server_info import captcha

HONEYPOT_FILLED = "The form could not be accepted."
INVALID_CAPTCHA = "Invalid captcha. Please try again."
EMAIL_MAX_BYTES = 1000


def sign_up(email: str, name: str, list_uuids: list[str]) -> SignUp:
    """Validate in listmonk's order: lists given, e-mail, name, then the uuids' form."""
    if not list_uuids:
        raise InvalidInput(NO_LISTS)
    if len(email.encode()) > EMAIL_MAX_BYTES:
        raise InvalidInput(INVALID_EMAIL)
    clean_email = sanitize_email(email)
    clean_name = valid_name(name) or clean_email.split("@", 1)[0]
    if not all(is_uuid(u) for u in list_uuids):
        raise InvalidInput(INVALID_UUID)
    return SignUp(clean_email, clean_name, tuple(dict.fromkeys(u.lower() for u in list_uuids)))


def _string_list(data: dict[str, Any], field: str) -> list[str]:
    value = data.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise type_error("[]string", value, field)
    for item in value:
        if not isinstance(item, str):
            raise InvalidInput(
                f"Unmarshal type error: expected=string, got={go_kind(item)}, field={field}")
    return value


async def read_sign_up(request: Request[Any, Any, Any]) -> SignUp:
    """The sign-up of a JSON body (``list_uuids``) or a form body (repeated ``l``)."""
    if request.content_type[0].lower() == "application/json":
        data = bind_object(await request.body(), ("email", "name", "list_uuids"))
        return sign_up(string_field(data, "email") or "", string_field(data, "name") or "",
                       _string_list(data, "list_uuids"))
    values = await form_values(request)
    first = {key: items[0] for key, items in values.items() if items}
    return sign_up(first.get("email", ""), first.get("name", ""), values.get("l", []))


async def subscribe(runtime: Runtime, ctx: CommandContext, request: SignUp) -> CommandOutcome:
    """Create or re-subscribe the subscriber in one transaction. A concurrent sign-up of the
    same new e-mail makes one of them lose the e-mail index race: it runs again and finds it."""
    handler = partial(sign_up_subscriber, request, str(uuid.uuid4()), now())
    master_key = master_key_from(runtime.settings.master_key)
    for attempt in (1, 2):
        try:
            return await execute_handler(runtime.pool, ctx, handler, master_key=master_key)
        except Conflict as exc:
            if exc.message != EMAIL_EXISTS or attempt == 2:
                raise
    raise AssertionError("unreachable")


@post("/api/public/subscription", operation_id="publicSubscription", status_code=200)
async def public_subscription(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """``{"data": {"has_optin": bool}}``; errors are ``{"message": ...}`` (400 mostly). As in
    listmonk, the captcha guards the HTML form only; the domain lists apply to both."""
    signup = await read_sign_up(request)
    DomainPolicy.of(await runtime.live_settings.get()).check(signup.email)
    ctx = await public_context(request)
    outcome = await subscribe(runtime, ctx, signup)
    has_optin = await _optin_sent(runtime, outcome.result)

    async def read() -> dict[str, bool]:
        return {"has_optin": has_optin}

    return await answer(runtime, ctx, outcome, PROJECTIONS, read)


@post("/subscription/form", operation_id="publicSubscriptionForm", status_code=200)
async def subscription_form(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[str]:
    """The HTML form's sign-up: a thank-you page, or the error as a page. A filled honeypot
    field (``nonce``, hidden from people) is refused like listmonk does (502); so is a missing
    or wrong captcha answer when ``security.captcha`` enables one (400)."""
    try:
        if any((await form_values(request)).get("nonce", [])):
            return error_page(HONEYPOT_FILLED, status_code=502)
        settings = await runtime.live_settings.get()
        if not await captcha.verify(runtime.pool, settings, await form_values(request)):
            return error_page(INVALID_CAPTCHA, status_code=400)  # security.captcha
        signup = await read_sign_up(request)
        DomainPolicy.of(settings).check(signup.email)
        ctx = replace(await public_context(request), idempotency_key="")
        outcome = await subscribe(runtime, ctx, signup)
    except (DomainError, APIError) as exc:
        return error_page(exc.message, status_code=exc.status_code)
    await settle(runtime, outcome)
    return subscribed_page(await _optin_sent(runtime, outcome.result))


async def _optin_sent(runtime: Runtime, result: dict[str, Any]) -> bool:
    """listmonk's ``has_optin``: an opt-in e-mail was asked for and will be sent
    (``app.send_optin_confirmation`` on)."""
    if not result.get("has_optin"):
        return False
    return (await runtime.live_settings.get()).app_send_optin_confirmation
