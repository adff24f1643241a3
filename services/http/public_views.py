"""The public pages' HTML: subscription form, opt-in confirmation, unsubscribe and preferences,
and the messages shown after a form was sent. Both APIs render them (GET pages here, the answers
to POSTs on the command side). Every value is escaped by ``services.http.pages``.

Forms post back to their own URL (``action=""``) or to a relative one, so the pages work behind
any path prefix. None needs JavaScript, except the subscription form when a captcha is on.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Response
from psycopg_pool import AsyncConnectionPool

from events.settings import AppSettings
from readmodels.public import (
    PRIVATE_LIST_NAME,
    PublicSubscriber,
    Subscription,
    is_uuid,
    subscriber_by_uuid,
)
from services.http.pages import (
    Html,
    content_security_policy,
    error_page,
    html,
    join,
    message_page,
    page,
)

# Titles and messages of the pages that answer a form.
SUBSCRIBED = ("Thank you", "You are subscribed.")
OPTIN_PENDING = ("Thank you", "Almost done: we have sent you an e-mail. Please follow the link in "
                 "it to confirm your subscription.")
CONFIRMED = ("Subscription confirmed", "Thank you, your subscription is confirmed.")
NOTHING_TO_CONFIRM = ("Nothing to confirm", "There are no subscriptions waiting for your "
                      "confirmation.")
UNSUBSCRIBED = ("Unsubscribed", "You have been unsubscribed.")
BLOCKLISTED = ("Unsubscribed", "You are unsubscribed from all our e-mails.")
PREFERENCES_SAVED = ("Preferences saved", "Your preferences have been saved.")
DATA_WIPED = ("Data deleted", "Your subscriptions and the data we held about you have been "
              "deleted.")
NO_LISTS = "There are no lists to subscribe to at the moment."
SUBSCRIBER_NOT_FOUND = "Subscriber not found."
FEATURE_OFF = "That feature is not available."
INVALID_UUID = "Invalid UUID(s)"


def list_name(subscription: Subscription) -> str:
    return PRIVATE_LIST_NAME if subscription.list_type == "private" else subscription.name


# The altcha solver of the form (security.captcha.altcha): finds the number whose SHA-256 with
# the salt is the challenge (embedded in the page, signed by the server) and puts listmonk's
# ``altcha`` field (base64 JSON) in the form; the button waits for it. Allowed by its hash.
ALTCHA_SCRIPT = """
(async () => {
  const field = document.getElementById('altcha');
  const button = document.getElementById('subscribe');
  const state = document.getElementById('altcha-state');
  const c = JSON.parse(field.dataset.challenge);
  button.disabled = true;
  const encoder = new TextEncoder();
  for (let n = 0; n <= c.maxNumber; n++) {
    const digest = await crypto.subtle.digest('SHA-256', encoder.encode(c.salt + n));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
    if (hex === c.challenge) {
      field.value = btoa(JSON.stringify({algorithm: c.algorithm, challenge: c.challenge,
        number: n, salt: c.salt, signature: c.signature}));
      state.textContent = 'Verified: you can subscribe.';
      button.disabled = false;
      return;
    }
  }
  state.textContent = 'The check failed: please reload the page.';
})();
"""
_ALTCHA_DIGEST = base64.b64encode(hashlib.sha256(ALTCHA_SCRIPT.encode()).digest()).decode()
ALTCHA_SCRIPT_HASH = f"'sha256-{_ALTCHA_DIGEST}'"
HCAPTCHA_ORIGINS = "https://hcaptcha.com https://*.hcaptcha.com"


def captcha_widget(provider: str, *, challenge: dict[str, Any] | None = None,
                   hcaptcha_key: str = "") -> tuple[Html, dict[str, str]]:
    """The captcha of the form (HTML, and the headers that allow its script), as listmonk's
    subscription form: altcha solved in the page, or hCaptcha's widget."""
    if provider == "altcha" and challenge is not None:
        widget = html(
            '<div class="captcha"><input type="hidden" id="altcha" name="altcha" value="" '
            'data-challenge="{challenge}">\n<p class="help" id="altcha-state" role="status">'
            "Checking that you are not a robot (needs JavaScript)...</p></div>\n"
            "<script>{script}</script>\n",
            challenge=json.dumps(challenge), script=Html(ALTCHA_SCRIPT))
        return widget, {"Content-Security-Policy": content_security_policy(
            scripts=ALTCHA_SCRIPT_HASH)}
    if provider == "hcaptcha":
        widget = html('<div class="h-captcha" data-sitekey="{key}"></div>\n'
                      '<script src="https://js.hcaptcha.com/1/api.js" async defer></script>\n',
                      key=hcaptcha_key)
        return widget, {"Content-Security-Policy": content_security_policy(
            scripts=HCAPTCHA_ORIGINS, connect=HCAPTCHA_ORIGINS, frames=HCAPTCHA_ORIGINS)}
    return Html(""), {}


def form_page(lists: Sequence[dict[str, Any]],
              captcha: tuple[Html, dict[str, str]] = (Html(""), {})) -> Response[str]:
    """The subscription form: e-mail, optional name, every public list (ticked), a honeypot,
    and the captcha when one is enabled (``captcha_widget``)."""
    items = join(html(
        '<li><input type="checkbox" id="l-{uuid}" name="l" value="{uuid}" checked> '
        '<label for="l-{uuid}">{name}</label>{description}</li>\n',
        uuid=item["uuid"], name=item["name"],
        description=html('<p class="description">{d}</p>', d=item["description"])
        if item.get("description") else Html(""))
        for item in lists)
    body = html(
        "<h1>Subscribe</h1>\n"
        '<form method="post" action="">\n'
        '<label for="email">E-mail address</label>\n'
        '<input type="email" id="email" name="email" required autocomplete="email" '
        'maxlength="1000">\n'
        '<label for="name">Name <span class="help">(optional)</span></label>\n'
        '<input type="text" id="name" name="name" autocomplete="name" maxlength="2000">\n'
        '<div class="hidden" aria-hidden="true"><label for="nonce">Leave this empty</label>'
        '<input type="text" id="nonce" name="nonce" value="" tabindex="-1" autocomplete="off">'
        "</div>\n"
        "<fieldset>\n<legend>Lists</legend>\n<ul class=\"choices\">\n{items}</ul>\n</fieldset>\n"
        '{captcha}<button type="submit" id="subscribe">Subscribe</button>\n</form>',
        items=items, captcha=captcha[0])
    return page("Subscribe", body, extra_headers=captcha[1])


def subscribed_page(has_optin: bool) -> Response[str]:
    title, message = OPTIN_PENDING if has_optin else SUBSCRIBED
    return message_page(title, message)


def optin_page(subscriptions: Sequence[Subscription]) -> Response[str]:
    """Asks to confirm the unconfirmed subscriptions listed (a button, never a bare link, so
    mail scanners that follow links confirm nothing)."""
    hidden = join(html('<input type="hidden" name="l" value="{uuid}">\n', uuid=s.list_uuid)
                  for s in subscriptions)
    items = join(html("<li>{name}</li>\n", name=list_name(s)) for s in subscriptions)
    body = html(
        "<h1>Confirm your subscription</h1>\n"
        "<p>Please confirm that you want to receive e-mails from:</p>\n"
        "<ul>\n{items}</ul>\n"
        '<form method="post" action="">\n{hidden}'
        '<input type="hidden" name="confirm" value="true">\n'
        '<button type="submit">Confirm subscription</button>\n</form>',
        items=items, hidden=hidden)
    return page("Confirm your subscription", body)


@dataclass(frozen=True)
class PrivacyOptions:
    """What the unsubscribe and preferences pages offer: listmonk's ``privacy.allow_*``
    settings (the POSTs refuse what is off; ``services/command_api/public``)."""

    blocklist: bool = True
    preferences: bool = True
    export: bool = True
    wipe: bool = True

    @classmethod
    def of(cls, settings: AppSettings) -> PrivacyOptions:
        return cls(blocklist=settings.privacy_allow_blocklist,
                   preferences=settings.privacy_allow_preferences,
                   export=settings.privacy_allow_export, wipe=settings.privacy_allow_wipe)


def _privacy_forms(subscriber_uuid: str, options: PrivacyOptions) -> Html:
    """Download (export) and delete (wipe) forms, those allowed; deleting asks for an
    explicit tick."""
    export = html(
        '<form method="post" action="../export/{uuid}">\n'
        '<p class="help">Download a copy of the data we hold about you (a JSON file).</p>\n'
        '<button type="submit" class="secondary">Download my data</button>\n</form>\n',
        uuid=subscriber_uuid) if options.export else Html("")
    wipe = html(
        '<form method="post" action="../wipe/{uuid}">\n'
        '<p class="help">Delete your subscriptions and all your data permanently.</p>\n'
        '<p class="check"><input type="checkbox" id="wipe-confirm" name="confirm" value="true" '
        'required> <label for="wipe-confirm">I understand that this cannot be undone.</label>'
        "</p>\n"
        '<button type="submit" class="danger">Delete my data</button>\n</form>\n',
        uuid=subscriber_uuid) if options.wipe else Html("")
    if not options.export and not options.wipe:
        return Html("")
    return html("<h2>Your data</h2>\n{export}{wipe}", export=export, wipe=wipe)


def _blocklist_box(label: str, options: PrivacyOptions) -> Html:
    if not options.blocklist:
        return Html("")
    return html(
        '<p class="check"><input type="checkbox" id="blocklist" name="blocklist" value="true"> '
        '<label for="blocklist">{label}</label></p>\n', label=label)


def unsubscribe_page(subscriber: PublicSubscriber,
                     options: PrivacyOptions = PrivacyOptions()) -> Response[str]:
    """One button unsubscribes from the campaign's lists; a tick (if allowed) unsubscribes
    from all; a link leads to the preferences (if allowed)."""
    manage = (Html('<p><a href="?manage=true">Manage your preferences</a></p>\n')
              if options.preferences else Html(""))
    body = html(
        "<h1>Unsubscribe</h1>\n"
        '<form method="post" action="">\n'
        "<p>Do you want to stop receiving e-mails from this mailing list?</p>\n"
        "{blocklist}"
        '<button type="submit">Unsubscribe</button>\n</form>\n{manage}{privacy}',
        blocklist=_blocklist_box("Also unsubscribe me from all future e-mails.", options),
        manage=manage, privacy=_privacy_forms(subscriber.uuid, options))
    return page("Unsubscribe", body)


def manage_page(subscriber: PublicSubscriber,
                options: PrivacyOptions = PrivacyOptions()) -> Response[str]:
    """Name and the (non-private) lists still subscribed to: unticking one unsubscribes."""
    kept = [s for s in subscriber.subscriptions
            if s.list_type != "private" and s.status != "unsubscribed"]
    items = join(html(
        '<li><input type="checkbox" id="l-{uuid}" name="l" value="{uuid}" checked> '
        '<label for="l-{uuid}">{name}</label></li>\n', uuid=s.list_uuid, name=s.name)
        for s in kept)
    lists = html(
        "<fieldset>\n<legend>Untick a list to unsubscribe from it</legend>\n"
        '<ul class="choices">\n{items}</ul>\n</fieldset>\n', items=items) if kept else Html("")
    body = html(
        "<h1>Your preferences</h1>\n"
        '<form method="post" action="">\n'
        '<input type="hidden" name="manage" value="true">\n'
        '<label for="name">Name</label>\n'
        '<input type="text" id="name" name="name" value="{name}" maxlength="256" required '
        'autocomplete="name">\n{lists}{blocklist}'
        '<button type="submit">Save</button>\n</form>\n{privacy}',
        name=subscriber.name, lists=lists,
        blocklist=_blocklist_box("Unsubscribe me from all future e-mails.", options),
        privacy=_privacy_forms(subscriber.uuid, options))
    return page("Your preferences", body)


async def find_subscriber(
    read_pool: AsyncConnectionPool[Any], *uuids: str
) -> PublicSubscriber | Response[str]:
    """The subscriber of the last of ``uuids``, after checking that all are uuids: else the
    error page to answer (400 for a malformed uuid, 404 for an unknown subscriber)."""
    if not all(is_uuid(u) for u in uuids):
        return error_page(INVALID_UUID, status_code=400)
    found = await subscriber_by_uuid(read_pool, uuids[-1])
    if found is None:
        return error_page(SUBSCRIBER_NOT_FOUND, status_code=404)
    return found
