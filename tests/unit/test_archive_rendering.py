"""The public archive's rendering, feed and index page (no I/O): a campaign rendered with its
archive template for its ``archive_meta``, listmonk's JSON entry, the RSS document, the page."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from events.settings import default_settings
from gotemplate import TemplateError
from services.http.archive import (
    ZERO_TIME,
    ArchiveMetaError,
    archive_entry,
    archive_url,
    meta_subscriber,
    published_at,
    render_archived,
)
from services.query_api.archive.feed import FeedItem, build_feed
from services.query_api.archive.pages import (
    ArchiveLink,
    archive_date,
    archive_page,
    pagination,
    total_pages,
)

ROOT = "https://news.example.com"
SETTINGS = default_settings(root_url=ROOT + "/")
T0 = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)
T1 = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
UUID = "6f0c3d2e-8c1b-4a3e-9d7f-2b5a1c0e9f11"
ARCHIVE_TEMPLATE = ('<html><title>{{ .Campaign.Subject }}</title><body class="archive">'
                    '{{ template "content" . }}</body></html>')


def row(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 7, "uuid": UUID, "name": "March news", "subject": "News for {{ .Subscriber.Name }}",
        "from_email": "News <news@example.com>",
        "body": "<p>Hello {{ .Subscriber.FirstName }} from {{ .Subscriber.Attribs.city }}</p>",
        "altbody": None, "content_type": "richtext", "tags": ["t"], "type": "regular",
        "status": "finished", "created_at": T0, "updated_at": T0, "send_at": None,
        "archive_slug": "march-news",
        "archive_meta": {"name": "Reader Person", "attribs": {"city": "Porto"}},
        "template_body": ARCHIVE_TEMPLATE,
    }
    base.update(fields)
    return base


# --- archive_meta as listmonk's subscriber ------------------------------------------------------

def test_meta_fields_match_without_regard_to_case_and_missing_ones_are_empty() -> None:
    sub = meta_subscriber({"UUID": UUID, "Email": "r@example.com", "NAME": "Reader",
                           "attribs": {"city": "Porto"}, "unknown": 1})
    assert (sub.UUID, sub.Email, sub.Name, sub.Attribs) == (UUID, "r@example.com", "Reader",
                                                            {"city": "Porto"})
    empty = meta_subscriber({})
    assert (empty.ID, empty.UUID, empty.Email, empty.Name, empty.Attribs, empty.Status,
            empty.CreatedAt) == (0, "", "", "", {}, "", ZERO_TIME)
    assert meta_subscriber(None).Name == ""
    assert meta_subscriber({"id": 4.0, "created_at": "2024-01-02T03:04:05Z"}).ID == 4


@pytest.mark.parametrize("meta", [
    [], "x", {"name": 5}, {"attribs": [1]}, {"id": "7"}, {"id": 1.5}, {"id": True},
    {"created_at": "yesterday"},
])
def test_meta_of_the_wrong_shape_is_refused(meta: Any) -> None:
    with pytest.raises(ArchiveMetaError):
        meta_subscriber(meta)


# --- rendering ----------------------------------------------------------------------------------

def test_a_campaign_renders_in_its_archive_template_for_its_meta() -> None:
    rendered = render_archived(row(), SETTINGS)
    assert rendered.subject == "News for Reader Person"
    assert rendered.body == ('<html><title>News for Reader Person</title><body class="archive">'
                             "<p>Hello Reader from Porto</p></body></html>")


def test_posted_meta_replaces_the_stored_one() -> None:
    rendered = render_archived(row(), SETTINGS, meta={"name": "Other One"})
    assert rendered.subject == "News for Other One"
    assert "<p>Hello Other from </p>" in rendered.body


def test_markdown_campaigns_are_converted_and_no_template_means_the_bare_content() -> None:
    rendered = render_archived(row(body="# Hi {{ .Subscriber.Name }}", content_type="markdown",
                                   template_body=""), SETTINGS)
    # the heading id comes from the Markdown source, as goldmark makes it
    assert rendered.body.strip() == '<h1 id="hi--subscribername-">Hi Reader Person</h1>'


def test_listmonk_functions_see_the_campaign_and_the_meta_subscriber() -> None:
    rendered = render_archived(row(
        body='{{ UnsubscribeURL }}|{{ ArchiveURL }}|{{ .Campaign.UUID }}',
        archive_meta={"uuid": UUID}, template_body=""), SETTINGS)
    assert rendered.body == (f"{ROOT}/subscription/{UUID}/{UUID}|{ROOT}/archive|{UUID}")


def test_a_template_error_surfaces() -> None:
    with pytest.raises(TemplateError):
        render_archived(row(body="{{ .Subscriber.Nope.Deeper }}", template_body=""), SETTINGS)


# --- listmonk's JSON entry ----------------------------------------------------------------------

def test_entry_has_listmonks_fields_and_the_slug_url() -> None:
    entry = archive_entry(row(send_at=T1), SETTINGS, with_content=False)
    assert entry == {
        "uuid": UUID, "subject": "News for Reader Person", "content": "",
        "created_at": "2024-03-04T09:30:00.000000+00:00",
        "send_at": "2024-03-05T10:00:00.000000+00:00",
        "url": f"{ROOT}/archive/march-news",
    }
    with_content = archive_entry(row(), SETTINGS, with_content=True)
    assert "<p>Hello Reader from Porto</p>" in with_content["content"]
    assert with_content["send_at"] is None


def test_without_a_slug_the_url_names_the_uuid() -> None:
    assert archive_url(ROOT + "/", row(archive_slug=None)) == f"{ROOT}/archive/{UUID}"
    assert archive_url(ROOT, row(archive_slug="a b/c")) == f"{ROOT}/archive/a%20b%2Fc"


def test_a_broken_campaign_keeps_its_written_subject_and_is_reported() -> None:
    seen: list[Exception] = []
    entry = archive_entry(row(archive_meta={"name": 3}), SETTINGS, with_content=True,
                          on_error=lambda _row, exc: seen.append(exc))
    assert (entry["subject"], entry["content"]) == ("News for {{ .Subscriber.Name }}", "")
    assert len(seen) == 1 and isinstance(seen[0], ArchiveMetaError)


def test_published_is_send_at_else_creation() -> None:
    assert published_at(row()) == T0
    assert published_at(row(send_at=T1)) == T1


# --- RSS ----------------------------------------------------------------------------------------

def test_the_feed_is_rss_with_an_item_per_campaign() -> None:
    items = [FeedItem(title="Second <b>", link=f"{ROOT}/archive/second", guid="u-2",
                      published=T1, content="<p>two</p>\x0b"),
             FeedItem(title="First", link=f"{ROOT}/archive/first", guid="u-1", published=T0)]
    document = build_feed(items, site_name="My list", root_url=ROOT,
                          description="Mailing list archive")
    rss = ET.fromstring(document)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel is not None
    assert (channel.findtext("title"), channel.findtext("link"),
            channel.findtext("description")) == ("My list", ROOT, "Mailing list archive")
    found = channel.findall("item")
    assert [(i.findtext("title"), i.findtext("link"), i.findtext("guid")) for i in found] == [
        ("Second <b>", f"{ROOT}/archive/second", "u-2"),
        ("First", f"{ROOT}/archive/first", "u-1")]
    assert [parsedate_to_datetime(i.findtext("pubDate") or "") for i in found] == [T1, T0]
    guid = found[0].find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    assert found[0].findtext("description") == "<p>two</p>"  # the control character dropped
    assert found[1].find("description") is None


# --- the index page -----------------------------------------------------------------------------

class Text(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.text: list[str] = []
        self._href: str | None = None
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())
            if self._href is not None:
                self.links.append((self._href, data.strip()))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None


def test_go_date_layout() -> None:
    assert archive_date(datetime(2006, 1, 2, tzinfo=UTC)) == "Mon, 02 Jan 2006"


def test_the_index_page_links_each_campaign_escaped_and_is_indexable() -> None:
    response = archive_page(
        [ArchiveLink("A <b>bold</b> subject", f"{ROOT}/archive/a", T0)], site_name="My list",
        root_url=ROOT + "/", current=1, pages=1, show_subscribe=True)
    body = str(response.content)
    parsed = Text(body)
    assert ("https://news.example.com/archive/a", "A <b>bold</b> subject") in parsed.links
    assert (f"{ROOT}/archive.xml", "RSS feed") in parsed.links
    assert (f"{ROOT}/subscription/form", "Subscribe") in parsed.links
    assert "Mon, 04 Mar 2024" in parsed.text
    assert "<b>bold" not in body
    assert "noindex" not in body and "X-Robots-Tag" not in (response.headers or {})
    empty = str(archive_page([], site_name="s", root_url=ROOT, current=1, pages=1,
                             show_subscribe=False).content)
    assert "No archived messages yet." in Text(empty).text
    assert "Subscribe" not in Text(empty).text


def test_pagination() -> None:
    assert total_pages(0, 20) == 1 and total_pages(41, 20) == 3 and total_pages(5, 0) == 1
    assert pagination(1, 1) == ""
    links = Text(pagination(2, 3, "5")).links
    assert links == [("?page=1&per_page=5", "« Previous"), ("?page=1&per_page=5", "1"),
                     ("?page=3&per_page=5", "3"), ("?page=3&per_page=5", "Next »")]
    many = Text(pagination(15, 30)).links
    assert [label for _, label in many if label.isdigit()] == [str(n) for n in range(10, 20)
                                                               if n != 15]
