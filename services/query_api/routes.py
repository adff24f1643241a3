"""The query API's route table: every GET route over the read models and who may call it.

Permissions are listmonk's (``cmd/handlers.go``); see ``services/auth/permissions.py``.
"""

from __future__ import annotations

from litestar import get
from litestar.types import ControllerRouterHandler

from services.auth.guard import require_auth
from services.auth.permissions import AUTHENTICATED, PUBLIC, Route, handlers, lists, needs
from services.query_api.analytics.routes import get_analytics
from services.query_api.archive.routes import (
    archive_campaign,
    archive_feed,
    archive_index,
    archive_latest,
    public_archive,
)
from services.query_api.auth.routes import generate_totp, login_form, twofa_form
from services.query_api.bounces.routes import get_bounce, get_bounces
from services.query_api.campaigns.preview import preview_campaign
from services.query_api.campaigns.routes import (
    get_campaign,
    get_campaigns,
    get_running_stats,
)
from services.query_api.dashboard.routes import get_dashboard_charts, get_dashboard_counts
from services.query_api.deliveries.routes import get_campaign_deliveries
from services.query_api.imports import import_logs, import_status
from services.query_api.lists.routes import get_list, get_lists, get_public_lists
from services.query_api.maintenance.routes import export_analytics
from services.query_api.media.routes import get_media, get_media_by_id
from services.query_api.public.routes import optin, robots_txt, subscription, subscription_form
from services.query_api.roles.routes import get_list_roles, get_user_roles
from services.query_api.server.routes import (
    admin_custom_css,
    admin_custom_js,
    altcha_challenge,
    get_about,
    get_config,
    get_events,
    get_lang,
    get_logs,
    public_custom_css,
    public_custom_js,
)
from services.query_api.settings.routes import get_settings
from services.query_api.subscribers.by_id import get_subscriber
from services.query_api.subscribers.deliveries import get_subscriber_deliveries
from services.query_api.subscribers.routes import (
    export_subscriber_data,
    export_subscribers,
    get_subscriber_activity,
    get_subscriber_bounces,
    get_subscribers,
)
from services.query_api.templates.routes import get_template, get_templates, preview_template
from services.query_api.tracking.routes import campaign_view, link_redirect, view_pixel
from services.query_api.users.routes import get_profile, get_user, get_users


@get("/api/health", guards=[require_auth], operation_id="health")
async def health() -> dict[str, bool]:
    return {"data": True}


SUBSCRIBERS_GET = needs("subscribers:get_all", "subscribers:get", per_list="get")
CAMPAIGNS_GET = needs("campaigns:get_all", "campaigns:get", per_list="get")

QUERY_ROUTES: tuple[Route, ...] = (
    Route(health, AUTHENTICATED),
    # lists: the list role decides, lists:get_all reaches every list
    Route(get_lists, lists("get", "lists:get_all", "lists:manage_all")),
    Route(get_list, lists("get", "lists:get_all", "lists:manage_all")),
    # subscribers
    Route(get_subscribers, SUBSCRIBERS_GET),
    Route(get_subscriber, SUBSCRIBERS_GET),
    Route(get_subscriber_activity, SUBSCRIBERS_GET),
    Route(get_subscriber_deliveries, SUBSCRIBERS_GET),
    Route(export_subscriber_data, SUBSCRIBERS_GET),
    Route(export_subscribers, SUBSCRIBERS_GET),
    Route(get_subscriber_bounces, needs("bounces:get")),
    Route(get_bounces, needs("bounces:get")),
    Route(get_bounce, needs("bounces:get")),
    Route(import_status, needs("subscribers:import")),
    Route(import_logs, needs("subscribers:import")),
    # templates
    Route(get_templates, needs("templates:get")),
    Route(get_template, needs("templates:get")),
    Route(preview_template, needs("templates:get")),
    # campaigns
    Route(get_campaigns, CAMPAIGNS_GET),
    Route(get_campaign, CAMPAIGNS_GET),
    Route(get_running_stats, CAMPAIGNS_GET),
    Route(get_campaign_deliveries, CAMPAIGNS_GET),
    Route(preview_campaign, CAMPAIGNS_GET),
    Route(get_analytics, needs("campaigns:get_analytics")),
    Route(export_analytics, needs("settings:maintain")),  # docs/maintenance.md
    # the dashboard: any signed-in user (listmonk checks no permission)
    Route(get_dashboard_charts, AUTHENTICATED),
    Route(get_dashboard_counts, AUTHENTICATED),
    # media
    Route(get_media, needs("media:get")),
    Route(get_media_by_id, needs("media:get")),
    # settings
    Route(get_settings, needs("settings:get")),
    # server info (docs/server_info.md): any signed-in user, logs and events settings:get
    Route(get_config, AUTHENTICATED),
    Route(get_about, AUTHENTICATED),
    Route(get_lang, AUTHENTICATED),
    Route(get_logs, needs("settings:get")),
    Route(get_events, needs("settings:get")),
    Route(admin_custom_css, AUTHENTICATED),
    Route(admin_custom_js, AUTHENTICATED),
    Route(public_custom_css, PUBLIC),
    Route(public_custom_js, PUBLIC),
    Route(altcha_challenge, PUBLIC),
    # users and roles
    Route(get_users, needs("users:get")),
    Route(get_user, needs("users:get")),
    Route(get_profile, AUTHENTICATED),
    # logins for people (docs/logins.md)
    Route(login_form, PUBLIC),
    Route(twofa_form, PUBLIC),
    Route(generate_totp, AUTHENTICATED),  # the caller's own 2FA, as listmonk (no pm())
    Route(get_user_roles, needs("roles:get")),
    Route(get_list_roles, needs("roles:get")),
    # public pages: no credentials
    Route(get_public_lists, PUBLIC),
    Route(subscription_form, PUBLIC),
    Route(optin, PUBLIC),
    Route(subscription, PUBLIC),
    Route(robots_txt, PUBLIC),
    # tracking: link redirects, the view pixel, "view in browser"
    Route(link_redirect, PUBLIC),
    Route(view_pixel, PUBLIC),
    Route(campaign_view, PUBLIC),
    # the public archive (404 while app.enable_public_archive is off)
    Route(archive_index, PUBLIC),
    Route(archive_feed, PUBLIC),
    Route(archive_latest, PUBLIC),
    Route(archive_campaign, PUBLIC),
    Route(public_archive, PUBLIC),
)


def query_routes() -> list[ControllerRouterHandler]:
    return handlers(QUERY_ROUTES)
