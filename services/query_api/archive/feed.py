"""The archive's RSS 2.0 feed (``GET /archive.xml``), built with ``feedgen``.

As listmonk's: the channel is the site (``app.site_name``, ``app.root_url``, "Mailing list
archive"), one item per archived campaign of the page, newest first: its rendered subject, its
archive URL, its publication time (``send_at``, else creation) and, with
``app.enable_public_archive_rss_content``, the rendered message as the item's description
(escaped HTML, RSS's usual encoding). Each item also has a ``guid``: the campaign's uuid, not
a permalink (listmonk's feed has none; a guid lets readers tell items apart even when a slug
changes). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from feedgen.feed import FeedGenerator

# Characters XML 1.0 cannot carry (lxml refuses them): dropped from every text of the feed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
RSS_MEDIA_TYPE = "application/rss+xml"


def xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


@dataclass(frozen=True)
class FeedItem:
    title: str
    link: str
    guid: str
    published: datetime
    content: str = ""


def build_feed(items: Sequence[FeedItem], *, site_name: str, root_url: str,
               description: str) -> bytes:
    """The RSS document of ``items`` (in the order given)."""
    feed = FeedGenerator()
    feed.title(xml_text(site_name) or "-")  # RSS requires a non-empty title
    feed.link(href=root_url)
    feed.description(xml_text(description))
    for item in items:
        entry = feed.add_entry(order="append")
        entry.title(xml_text(item.title) or item.link)  # an item needs a title
        entry.link(href=item.link)
        entry.guid(item.guid, permalink=False)
        entry.pubDate(item.published)
        if item.content:
            entry.content(xml_text(item.content))
    rss: bytes = feed.rss_str(pretty=True)
    return rss
