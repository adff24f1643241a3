"""The command API's route table: every POST/PUT/PATCH/DELETE route and who may call it.

Permissions are listmonk's (``cmd/handlers.go``); see ``services/auth/permissions.py``.
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from services.auth.permissions import PUBLIC, Route, handlers, lists, needs
from services.command_api.campaigns.preview import preview_campaign_body, preview_campaign_text
from services.command_api.campaigns.routes import (
    create_campaign,
    delete_campaign,
    delete_campaigns,
    update_archive,
    update_campaign,
    update_status,
)
from services.command_api.campaigns.send_test import send_campaign_test
from services.command_api.deliveries.routes import retry_campaign_deliveries
from services.command_api.imports.routes import import_subscribers, stop_import
from services.command_api.lists.routes import create_list, delete_list, delete_lists, update_list
from services.command_api.public.subscribe import public_subscription, subscription_form
from services.command_api.public.subscriber_pages import (
    confirm_optin,
    export_data,
    unsubscribe,
    wipe_data,
)
from services.command_api.settings.routes import (
    reload_app,
    send_smtp_test,
    update_setting,
    update_settings,
)
from services.command_api.subscribers.bounces import delete_subscriber_bounces
from services.command_api.subscribers.bulk import (
    blocklist_subscriber,
    blocklist_subscribers,
    delete_subscriber,
    delete_subscribers,
    manage_subscriber_lists,
    manage_subscriber_lists_by_id,
)
from services.command_api.subscribers.by_query import (
    blocklist_by_query,
    blocklist_by_query_post,
    delete_by_query,
    manage_lists_by_query,
)
from services.command_api.subscribers.routes import (
    create_subscriber,
    patch_subscriber,
    request_optin,
    update_subscriber,
)
from services.command_api.templates.routes import (
    create_template,
    delete_template,
    preview_template_body,
    set_default_template,
    update_template,
)
from services.command_api.tx.routes import send_tx

SUBSCRIBERS_MANAGE = needs("subscribers:manage", per_list="manage")
CAMPAIGNS_MANAGE = needs("campaigns:manage_all", "campaigns:manage", per_list="manage")
TEMPLATES_MANAGE = needs("templates:manage")

COMMAND_ROUTES: tuple[Route, ...] = (
    # lists: the list role decides, lists:manage_all reaches every list
    Route(create_list, needs("lists:manage_all")),
    Route(update_list, lists("manage", "lists:manage_all")),
    Route(delete_list, lists("manage", "lists:manage_all")),
    Route(delete_lists, lists("manage", "lists:manage_all")),
    # subscribers
    Route(create_subscriber, SUBSCRIBERS_MANAGE),
    Route(update_subscriber, SUBSCRIBERS_MANAGE),
    Route(patch_subscriber, SUBSCRIBERS_MANAGE),
    Route(request_optin, SUBSCRIBERS_MANAGE),
    Route(blocklist_subscriber, SUBSCRIBERS_MANAGE),
    Route(blocklist_subscribers, SUBSCRIBERS_MANAGE),
    Route(manage_subscriber_lists, SUBSCRIBERS_MANAGE),
    Route(manage_subscriber_lists_by_id, SUBSCRIBERS_MANAGE),
    Route(delete_subscriber, SUBSCRIBERS_MANAGE),
    Route(delete_subscribers, SUBSCRIBERS_MANAGE),
    Route(delete_by_query, SUBSCRIBERS_MANAGE),
    Route(blocklist_by_query, SUBSCRIBERS_MANAGE),
    Route(blocklist_by_query_post, SUBSCRIBERS_MANAGE),
    Route(manage_lists_by_query, SUBSCRIBERS_MANAGE),
    Route(delete_subscriber_bounces, needs("bounces:manage")),
    Route(import_subscribers, needs("subscribers:import")),
    Route(stop_import, needs("subscribers:import")),
    # templates
    Route(create_template, TEMPLATES_MANAGE),
    Route(update_template, TEMPLATES_MANAGE),
    Route(set_default_template, TEMPLATES_MANAGE),
    Route(delete_template, TEMPLATES_MANAGE),
    Route(preview_template_body, needs("templates:get")),
    # campaigns
    Route(create_campaign, CAMPAIGNS_MANAGE),
    Route(update_campaign, CAMPAIGNS_MANAGE),
    Route(update_archive, CAMPAIGNS_MANAGE),
    Route(delete_campaign, CAMPAIGNS_MANAGE),
    Route(delete_campaigns, CAMPAIGNS_MANAGE),
    Route(send_campaign_test, CAMPAIGNS_MANAGE),
    Route(update_status, needs("campaigns:send", per_list="manage")),
    Route(preview_campaign_body, needs("campaigns:get_all", "campaigns:get", per_list="get")),
    Route(preview_campaign_text, needs("campaigns:get", per_list="get")),
    Route(retry_campaign_deliveries, CAMPAIGNS_MANAGE),
    # transactional messages
    Route(send_tx, needs("tx:send")),
    # settings
    Route(update_settings, needs("settings:manage")),
    Route(update_setting, needs("settings:manage")),
    Route(send_smtp_test, needs("settings:manage")),
    Route(reload_app, needs("settings:manage")),
    # public pages and sign-up: no credentials
    Route(public_subscription, PUBLIC),
    Route(subscription_form, PUBLIC),
    Route(confirm_optin, PUBLIC),
    Route(unsubscribe, PUBLIC),
    Route(export_data, PUBLIC),
    Route(wipe_data, PUBLIC),
)


def command_routes() -> list[ControllerRouterHandler]:
    return handlers(COMMAND_ROUTES)
