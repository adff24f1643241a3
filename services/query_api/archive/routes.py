"""The public campaign archive, without credentials, while ``app.enable_public_archive`` is on
(read from the live settings at each request; off, every route answers 404 as listmonk, which
then does not register them: a page, or ``{"message": "404 unknown endpoint"}`` on the API):

- ``GET /archive``: the archived campaigns, newest first, paged (``page``, ``per_page``: 20 by
  default, at most 50, as listmonk's paginator; ``all`` means 50 here).
- ``GET /archive.xml``: the same page as an RSS feed (``feed.py``).
- ``GET /archive/latest``: the newest archived campaign, rendered.
- ``GET /archive/:slug-or-uuid``: one archived campaign, rendered with its archive template
  for its ``archive_meta`` (``services/http/archive.py``).
- ``GET /api/public/archive``: listmonk's JSON page of ``{uuid, subject, content, created_at,
  send_at, url}``.

Which campaigns are archived is ``readmodels/archive.py``'s rule (archive flag, regular, sent).
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.settings import AppSettings
from gotemplate import TemplateError
from readmodels.archive import archived_campaign, archived_campaigns
from readmodels.paging import envelope
from services.http.archive import (
    ARCHIVE_TITLE,
    CAMPAIGN_NOT_FOUND,
    FETCH_ERROR,
    ArchiveMetaError,
    archive_entry,
    published_at,
    render_archived,
)
from services.http.errors import UNKNOWN_ENDPOINT, error_response
from services.http.pages import error_page
from services.http.params import MAX_OFFSET, page_of
from services.query_api.archive.feed import RSS_MEDIA_TYPE, FeedItem, build_feed
from services.query_api.archive.pages import ArchiveLink, archive_page, total_pages
from services.runtime import Runtime

log = structlog.get_logger(__name__)

PAGE_NOT_FOUND = "The page you are looking for does not exist."
# listmonk's paginator's largest page; anonymous visitors cannot ask for more (nor for "all":
# every campaign rendered in one request).
MAX_PER_PAGE = 50
# An archived message is the campaign's own HTML: styles and images as in the e-mail, but no
# scripts or plugins (e-mail never runs them) and no framing by other sites.
MESSAGE_HEADERS = {
    "Content-Security-Policy": "script-src 'none'; object-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


async def _enabled(runtime: Runtime) -> AppSettings | None:
    """The live settings while the public archive is on, else None."""
    settings = await runtime.live_settings.get()
    return settings if settings.app_enable_public_archive else None


def _disabled_page() -> Response[str]:
    return error_page(PAGE_NOT_FOUND, status_code=404)


def archive_page_of(params: Any) -> tuple[int, int, int, int]:
    """``(page, per_page, offset, limit)`` as listmonk's paginator reads them, at most
    ``MAX_PER_PAGE`` a page."""
    page, per_page, offset, limit = page_of(params)
    if limit is None or per_page > MAX_PER_PAGE:
        per_page = MAX_PER_PAGE
        offset = min((page - 1) * per_page, MAX_OFFSET)
    return page, per_page, offset, per_page


def _log_render_error(row: dict[str, Any], exc: Exception) -> None:
    log.warning("archive_render_failed", campaign_id=row["id"], error=str(exc))


def _message(row: dict[str, Any], settings: AppSettings) -> Response[str]:
    """The campaign's page: its message rendered for its archive meta (a 500 page when the
    campaign cannot be rendered, as listmonk)."""
    try:
        rendered = render_archived(row, settings)
    except (TemplateError, ArchiveMetaError) as exc:
        _log_render_error(row, exc)
        return error_page(FETCH_ERROR, status_code=500)
    return Response(content=rendered.body, status_code=200, media_type="text/html",
                    headers=MESSAGE_HEADERS)


@get("/archive", operation_id="publicArchivePage")
async def archive_index(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[str]:
    """Links to the archived campaigns of the page, with their dates."""
    settings = await _enabled(runtime)
    if settings is None:
        return _disabled_page()
    params = request.query_params
    page, per_page, offset, limit = archive_page_of(params)
    rows, total = await archived_campaigns(runtime.read_pool, offset, limit)
    entries = [archive_entry(row, settings, with_content=False, on_error=_log_render_error)
               for row in rows]
    links = [ArchiveLink(subject=entry["subject"], url=entry["url"], published=published_at(row))
             for entry, row in zip(entries, rows, strict=True)]
    per_page_param = str(per_page) if "per_page" in params else None
    return archive_page(links, site_name=settings.app_site_name,
                        root_url=settings.app_root_url, current=page,
                        pages=total_pages(total, per_page),
                        show_subscribe=settings.app_enable_public_subscription_page,
                        per_page_param=per_page_param)


@get("/archive.xml", operation_id="publicArchiveFeed")
async def archive_feed(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """The page's campaigns as RSS, with their messages when
    ``app.enable_public_archive_rss_content`` is on."""
    settings = await _enabled(runtime)
    if settings is None:
        return _disabled_page()
    _, _, offset, limit = archive_page_of(request.query_params)
    rows, _ = await archived_campaigns(runtime.read_pool, offset, limit)
    with_content = settings.app_enable_public_archive_rss_content
    items = []
    for row in rows:
        entry = archive_entry(row, settings, with_content=with_content,
                              on_error=_log_render_error)
        items.append(FeedItem(title=entry["subject"], link=entry["url"], guid=entry["uuid"],
                              published=published_at(row), content=entry["content"]))
    body = build_feed(items, site_name=settings.app_site_name,
                      root_url=settings.app_root_url, description=ARCHIVE_TITLE)
    return Response(content=body, status_code=200, media_type=RSS_MEDIA_TYPE)


@get("/archive/latest", operation_id="publicArchiveLatest")
async def archive_latest(runtime: NamedDependency[Runtime]) -> Response[str]:
    """The newest archived campaign, rendered (a 404 page while there is none)."""
    settings = await _enabled(runtime)
    if settings is None:
        return _disabled_page()
    rows, _ = await archived_campaigns(runtime.read_pool, 0, 1)
    if not rows:
        return error_page(CAMPAIGN_NOT_FOUND, status_code=404)
    return _message(rows[0], settings)


@get("/archive/{campaign:str}", operation_id="publicArchiveCampaign")
async def archive_campaign(
    runtime: NamedDependency[Runtime], campaign: FromPath[str]
) -> Response[str]:
    """One archived campaign, named by its archive slug or its uuid."""
    settings = await _enabled(runtime)
    if settings is None:
        return _disabled_page()
    row = await archived_campaign(runtime.read_pool, campaign)
    if row is None:
        return error_page(CAMPAIGN_NOT_FOUND, status_code=404)
    return _message(row, settings)


@get("/api/public/archive", operation_id="publicArchive")
async def public_archive(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[Any]:
    """listmonk's page of archived campaigns as JSON (``content`` is always empty here)."""
    settings = await _enabled(runtime)
    if settings is None:
        return error_response(404, UNKNOWN_ENDPOINT)
    page, per_page, offset, limit = archive_page_of(request.query_params)
    rows, total = await archived_campaigns(runtime.read_pool, offset, limit)
    if not rows:
        return Response(content={"data": envelope([], 0, 0, 0)}, status_code=200,
                        media_type="application/json")
    entries = [archive_entry(row, settings, with_content=False, on_error=_log_render_error)
               for row in rows]
    return Response(content={"data": envelope(entries, total, per_page, page)},
                    status_code=200, media_type="application/json")
