"""The command API's route table: every POST/PUT/PATCH/DELETE route and who may call it.

Permissions are listmonk's (``cmd/handlers.go``); see ``services/auth/permissions.py``.
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from services.auth.permissions import AUTHENTICATED, PUBLIC, Route, handlers, lists, needs
from services.command_api.auth.routes import (
    disable_twofa,
    enable_twofa,
    login,
    login_twofa,
    logout,
)
from services.command_api.bounces.routes import (
    blocklist_bounced,
    bounce_webhook,
    delete_bounce,
    delete_bounces,
    service_webhook,
)
from services.command_api.campaigns.archive_preview import preview_campaign_archive
from services.command_api.campaigns.convert import convert_campaign_content
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
from services.command_api.maintenance.routes import (
    gc_analytics,
    gc_subscribers,
    gc_unconfirmed,
)
from services.command_api.media.routes import delete_media, upload_media
from services.command_api.public.subscribe import public_subscription, subscription_form
from services.command_api.public.subscriber_pages import (
    confirm_optin,
    export_data,
    unsubscribe,
    wipe_data,
)
from services.command_api.roles.routes import (
    create_list_role,
    create_user_role,
    delete_role,
    update_list_role,
    update_user_role,
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
from services.command_api.users.routes import (
    create_user,
    delete_user,
    delete_users,
    update_profile,
    update_user,
)

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
    # maintenance (docs/maintenance.md)
    Route(gc_subscribers, needs("settings:maintain")),
    Route(gc_unconfirmed, needs("settings:maintain")),
    Route(gc_analytics, needs("settings:maintain")),
    # bounces
    Route(delete_bounces, needs("bounces:manage")),
    Route(delete_bounce, needs("bounces:manage")),
    Route(blocklist_bounced, needs("bounces:manage")),
    Route(bounce_webhook, needs("webhooks:post_bounce")),
    Route(service_webhook, PUBLIC),  # each provider verifies its sender (docs/bounces.md)
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
    Route(preview_campaign_archive,
          needs("campaigns:get_all", "campaigns:get", per_list="get")),
    Route(convert_campaign_content, needs("campaigns:manage_all", "campaigns:manage")),
    Route(retry_campaign_deliveries, CAMPAIGNS_MANAGE),
    # media
    Route(upload_media, needs("media:manage")),
    Route(delete_media, needs("media:manage")),
    # transactional messages
    Route(send_tx, needs("tx:send")),
    # settings
    Route(update_settings, needs("settings:manage")),
    Route(update_setting, needs("settings:manage")),
    Route(send_smtp_test, needs("settings:manage")),
    Route(reload_app, needs("settings:manage")),
    # users and roles
    Route(create_user, needs("users:manage")),
    Route(update_user, needs("users:manage")),
    Route(delete_user, needs("users:manage")),
    Route(delete_users, needs("users:manage")),
    Route(update_profile, AUTHENTICATED),
    # logins for people (docs/logins.md)
    Route(login, PUBLIC),
    Route(login_twofa, PUBLIC),
    Route(logout, AUTHENTICATED),
    Route(enable_twofa, AUTHENTICATED),  # the caller's own 2FA, as listmonk (no pm())
    Route(disable_twofa, AUTHENTICATED),
    Route(create_user_role, needs("roles:manage")),
    Route(create_list_role, needs("roles:manage")),
    Route(update_user_role, needs("roles:manage")),
    Route(update_list_role, needs("roles:manage")),
    Route(delete_role, needs("roles:manage")),
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
