"""``POST /api/campaigns/:id/test``: render the campaign for a few subscribers and queue it.

As listmonk's ``TestCampaign``: the body holds the campaign's fields (as in an update) plus
``subscribers``, the test recipients' e-mails. The fields are validated like an update's (same
messages); the campaign is rendered as posted, inside its template (or the posted
``template_id``), for each known subscriber, with listmonk's headers. Each message is one
``message.campaign_test_queued`` event sealed with the subscriber's key; delivery is the
sender's job. Answers ``{"data": true}``.

Differences from listmonk: fields the request leaves out keep the stored campaign's values
(listmonk treats them as empty and refuses the test), the lists may be left out too; template
compile and render errors are 400s (listmonk answers 500 and 404).

The route binds the body and finds the subscribers in the read model (on the read pool: the
command's transaction has nothing to add); the ``send_test`` handler does the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.auth.guard import require_auth
from services.command_api.campaigns import handlers
from services.command_api.campaigns.access import require_campaign
from services.command_api.campaigns.binding import campaign_request
from services.command_api.campaigns.lookups import LOOKUPS
from services.command_api.respond import run_handler
from services.command_api.tx.recipients import find_subscribers
from services.http.binding import bind_object, read_body, string_list
from services.http.params import path_id
from services.runtime import Runtime

AnyRequest = Request[Any, Any, Any]


def _emails(body: bytes) -> list[str]:
    data = bind_object(body, ("subscribers",))
    found = string_list(data.get("subscribers"), "pq.StringArray", "subscribers") or []
    return [e.strip().lower() for e in found]


@post("/api/campaigns/{campaign_id:str}/test", guards=[require_auth],
      operation_id="testCampaignById", status_code=200)
async def send_campaign_test(request: AnyRequest, runtime: NamedDependency[Runtime],
                             campaign_id: FromPath[str]) -> Response[bytes]:
    """Queue the campaign, as posted, for the test subscribers."""
    target = path_id(campaign_id)
    await require_campaign(request, runtime, "manage", target)
    body = await read_body(request, bytes, None, b"")
    req = campaign_request(body)
    emails = _emails(body)
    _, by_email = await find_subscribers(runtime.read_pool, (), emails)
    app = await runtime.live_settings.get()
    test = handlers.CampaignTest(
        campaign_id=target, request=req, emails=tuple(emails),
        subscribers=tuple(by_email[e] for e in dict.fromkeys(emails) if e in by_email),
        default_from_email=app.app_from_email, root_url=app.app_root_url,
        at=datetime.now(UTC))
    return await run_handler(request, runtime, partial(handlers.send_test, test),
                             (), ports=LOOKUPS)
