"""The archive index's HTML (``GET /archive``), in the style of the other public pages
(``services/http/pages.py``: every value escaped, no JavaScript) but indexable: the archive is
meant to be found. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from litestar import Response

from services.http.archive import ARCHIVE_EMPTY, ARCHIVE_TITLE
from services.http.pages import Html, html, join, page

PAGE_LINKS = 10  # page numbers shown around the current one, as listmonk's paginator
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def archive_date(when: datetime) -> str:
    """Go's ``Mon, 02 Jan 2006`` layout (English names whatever the locale)."""
    return f"{_DAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year}"


@dataclass(frozen=True)
class ArchiveLink:
    subject: str
    url: str
    published: datetime


def total_pages(total: int, per_page: int) -> int:
    """How many pages ``total`` campaigns make (one when there is no limit)."""
    if per_page <= 0:
        return 1
    return max((total + per_page - 1) // per_page, 1)


def _page_href(number: int, per_page_param: str | None) -> str:
    query = f"?page={number}"
    return query + (f"&per_page={per_page_param}" if per_page_param else "")


def pagination(current: int, pages: int, per_page_param: str | None = None) -> Html:
    """Links to the pages around ``current`` (nothing for a single page)."""
    if pages <= 1:
        return Html("")
    first = max(1, min(current - PAGE_LINKS // 2, pages - PAGE_LINKS + 1))
    last = min(pages, first + PAGE_LINKS - 1)
    parts: list[Html] = []
    if current > 1:
        parts.append(html('<a href="{href}" rel="prev">&laquo; Previous</a>',
                          href=_page_href(min(current - 1, pages), per_page_param)))
    for number in range(first, last + 1):
        if number == current:
            parts.append(html('<strong aria-current="page">{n}</strong>', n=number))
        else:
            parts.append(html('<a href="{href}">{n}</a>',
                              href=_page_href(number, per_page_param), n=number))
    if current < pages:
        parts.append(html('<a href="{href}" rel="next">Next &raquo;</a>',
                          href=_page_href(current + 1, per_page_param)))
    return html('<nav class="pagination" aria-label="Pages">{links}</nav>\n',
                links=Html(" ".join(parts)))


def archive_page(links: Sequence[ArchiveLink], *, site_name: str, root_url: str, current: int,
                 pages: int, show_subscribe: bool, per_page_param: str | None = None
                 ) -> Response[str]:
    """The list of archived campaigns (links to their pages, newest first) with the feed's
    link, the subscription form's (when that page is enabled) and the page links. Links are
    under ``root_url`` (``app.root_url``), as listmonk's."""
    root = root_url.rstrip("/")
    items = join(html(
        '<li><a href="{url}">{subject}</a> <span class="date">{date}</span></li>\n',
        url=link.url, subject=link.subject, date=archive_date(link.published))
        for link in links)
    listing = (html('<ul class="archive">\n{items}</ul>\n', items=items) if links
               else html("<p>{empty}</p>\n", empty=ARCHIVE_EMPTY))
    subscribe = (html(' &middot; <a href="{root}/subscription/form">Subscribe</a>', root=root)
                 if show_subscribe else Html(""))
    body = html(
        '<p class="site">{site}</p>\n<h1>{title}</h1>\n{listing}'
        '<p><a href="{root}/archive.xml" type="application/rss+xml">RSS feed</a>{subscribe}</p>\n'
        "{pagination}",
        root=root, site=site_name, title=ARCHIVE_TITLE, listing=listing, subscribe=subscribe,
        pagination=pagination(current, pages, per_page_param))
    return page(ARCHIVE_TITLE, body, indexable=True)
