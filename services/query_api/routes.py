"""The query API's route table: every GET route over the read models and who may call it.

Permissions are listmonk's (``cmd/handlers.go``); see ``services/auth/permissions.py``.
"""

from __future__ import annotations

from litestar import get
from litestar.types import ControllerRouterHandler

from services.auth.guard import require_auth
from services.auth.permissions import AUTHENTICATED, PUBLIC, Route, handlers, lists, needs
from services.query_api.campaigns.preview import preview_campaign
from services.query_api.campaigns.routes import (
    get_analytics,
    get_campaign,
    get_campaigns,
    get_running_stats,
)
from services.query_api.deliveries.routes import get_campaign_deliveries
from services.query_api.imports import import_logs, import_status
from services.query_api.lists.routes import get_list, get_lists, get_public_lists
from services.query_api.public.routes import optin, subscription, subscription_form
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
    # settings
    Route(get_settings, needs("settings:get")),
    # public pages: no credentials
    Route(get_public_lists, PUBLIC),
    Route(subscription_form, PUBLIC),
    Route(optin, PUBLIC),
    Route(subscription, PUBLIC),
)


def query_routes() -> list[ControllerRouterHandler]:
    return handlers(QUERY_ROUTES)
