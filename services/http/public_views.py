"""The public pages' HTML: subscription form, opt-in confirmation, unsubscribe and preferences,
and the messages shown after a form was sent. Both APIs render them (GET pages here, the answers
to POSTs on the command side). Every value is escaped by ``services.http.pages``.

Forms post back to their own URL (``action=""``) or to a relative one, so the pages work behind
any path prefix. None needs JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Response
from psycopg_pool import AsyncConnectionPool

from readmodels.public import (
    PRIVATE_LIST_NAME,
    PublicSubscriber,
    Subscription,
    is_uuid,
    subscriber_by_uuid,
)
from services.http.pages import Html, error_page, html, join, message_page, page

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
INVALID_UUID = "Invalid UUID(s)"


def list_name(subscription: Subscription) -> str:
    return PRIVATE_LIST_NAME if subscription.list_type == "private" else subscription.name


def form_page(lists: Sequence[dict[str, Any]]) -> Response[str]:
    """The subscription form: e-mail, optional name, every public list (ticked), a honeypot."""
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
        '<button type="submit">Subscribe</button>\n</form>',
        items=items)
    return page("Subscribe", body)


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


def _privacy_forms(subscriber_uuid: str) -> Html:
    """Download (export) and delete (wipe) forms; deleting asks for an explicit tick."""
    return html(
        "<h2>Your data</h2>\n"
        '<form method="post" action="../export/{uuid}">\n'
        '<p class="help">Download a copy of the data we hold about you (a JSON file).</p>\n'
        '<button type="submit" class="secondary">Download my data</button>\n</form>\n'
        '<form method="post" action="../wipe/{uuid}">\n'
        '<p class="help">Delete your subscriptions and all your data permanently.</p>\n'
        '<p class="check"><input type="checkbox" id="wipe-confirm" name="confirm" value="true" '
        'required> <label for="wipe-confirm">I understand that this cannot be undone.</label>'
        "</p>\n"
        '<button type="submit" class="danger">Delete my data</button>\n</form>',
        uuid=subscriber_uuid)


def unsubscribe_page(subscriber: PublicSubscriber) -> Response[str]:
    """One button unsubscribes from the campaign's lists; a tick unsubscribes from all."""
    body = html(
        "<h1>Unsubscribe</h1>\n"
        '<form method="post" action="">\n'
        "<p>Do you want to stop receiving e-mails from this mailing list?</p>\n"
        '<p class="check"><input type="checkbox" id="blocklist" name="blocklist" value="true"> '
        '<label for="blocklist">Also unsubscribe me from all future e-mails.</label></p>\n'
        '<button type="submit">Unsubscribe</button>\n</form>\n'
        '<p><a href="?manage=true">Manage your preferences</a></p>\n{privacy}',
        privacy=_privacy_forms(subscriber.uuid))
    return page("Unsubscribe", body)


def manage_page(subscriber: PublicSubscriber) -> Response[str]:
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
        'autocomplete="name">\n{lists}'
        '<p class="check"><input type="checkbox" id="blocklist" name="blocklist" value="true"> '
        '<label for="blocklist">Unsubscribe me from all future e-mails.</label></p>\n'
        '<button type="submit">Save</button>\n</form>\n{privacy}',
        name=subscriber.name, lists=lists, privacy=_privacy_forms(subscriber.uuid))
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
