"""listmonk's documented template examples, functions and campaign compilation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from gotemplate import TemplateError, compile_template
from services.sender.templating import (
    campaign_funcs,
    compile_altbody,
    compile_campaign_body,
    compile_subject,
    first_name,
    generic_funcs,
    html_to_text,
    last_name,
    markdown_to_html,
    rewrite_shorthands,
)

ROOT = "https://lists.example.com"
DUMMY = "00000000-0000-0000-0000-000000000000"
NOW = datetime(2024, 3, 5, 14, 7, 9, tzinfo=UTC)


@dataclass
class Subscriber:
    """Shaped like listmonk's models.Subscriber, with its FirstName/LastName methods."""

    __template_fields__ = frozenset({"UUID", "Email", "Name", "Status", "Attribs",
                                     "FirstName", "LastName"})
    UUID: str
    Email: str
    Name: str
    Status: str = "enabled"
    Attribs: dict[str, Any] = field(default_factory=dict)

    def FirstName(self) -> str:
        return first_name(self.Name)

    def LastName(self) -> str:
        return last_name(self.Name)


@dataclass
class Campaign:
    UUID: str
    Name: str
    Subject: str
    FromEmail: str


@dataclass
class Message:
    Campaign: Campaign
    Subscriber: Subscriber


def message(name: str = "Jane Q Doe", city: str = "Bengaluru") -> Message:
    return Message(
        Campaign("c-1", "March news", "News for {{ .Subscriber.FirstName }}", "news@x.com"),
        Subscriber("s-1", "jane@example.com", name, Attribs={"city": city, "projects": 5.0}),
    )


def funcs(**kwargs: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"root_url": ROOT, "clock": lambda: NOW,
                                "link_uuid": lambda url: "L-" + url.rsplit("/", 1)[-1],
                                "i18n": {"email.unsub": "Unsubscribe", "hello": "Hi | Hi all"}}
    defaults.update(kwargs)
    return campaign_funcs(**defaults)


def render(source: str, msg: Message | None = None, **kwargs: Any) -> str:
    template = compile_template(rewrite_shorthands(source), funcs=funcs(**kwargs))
    return template.render(msg or message())


DOCUMENTED = [
    ("{{ .Subscriber.FirstName }}", "Jane"),
    ("{{ .Subscriber.LastName }}", "Doe"),
    ("{{ .Subscriber.Name }} <{{ .Subscriber.Email }}> {{ .Subscriber.UUID }}",
     "Jane Q Doe &lt;jane@example.com> s-1"),
    ("{{ .Subscriber.Attribs.city }}", "Bengaluru"),
    ("You have done {{ .Subscriber.Attribs.projects }} projects.", "You have done 5 projects."),
    ('{{ if eq .Subscriber.Attribs.city "Bengaluru" }}You live in Bangalore!{{ else }}'
     "Where do you live?{{ end }}", "You live in Bangalore!"),
    ("{{ .Campaign.Name }} / {{ .Campaign.FromEmail }}", "March news / news@x.com"),
    ('{{ Date "2006-01-02" }}', "2024-03-05"),
    ('{{ Date "" }}', "Tue Mar  5 14:07:09 2024"),
    ('<a href="{{ TrackLink "https://google.com" }}">Google</a>',
     f'<a href="{ROOT}/link/L-google.com/c-1/{DUMMY}">Google</a>'),
    ('<a href="https://listmonk.app@TrackLink">tracked link</a>',
     f'<a href="{ROOT}/link/L-listmonk.app/c-1/{DUMMY}">tracked link</a>'),
    ("{{ TrackView }}",
     f'<img src="{ROOT}/campaign/c-1/{DUMMY}/px.png" width="1" height="1" '
     'style="display:none;max-height:0;max-width:0;opacity:0" alt="">'),
    ('<a href="{{ UnsubscribeURL }}">{{ L.T "email.unsub" }}</a>',
     f'<a href="{ROOT}/subscription/c-1/s-1">Unsubscribe</a>'),
    ("{{ ManageURL }} {{ OptinURL }} {{ MessageURL }}",
     f"{ROOT}/subscription/c-1/s-1?manage=true {ROOT}/subscription/optin/s-1? "
     f"{ROOT}/campaign/c-1/s-1"),
    ("{{ ArchiveURL }} {{ RootURL }}", f"{ROOT}/archive {ROOT}"),
    ('{{ Safe "<!-- comment -->" }}', "<!-- comment -->"),
    ('{{ L.T "hello" }} {{ L.Tc "hello" 2 }} {{ L.T "unknown.key" }}', "Hi Hi all unknown.key"),
]


@pytest.mark.parametrize(("source", "expected"), DOCUMENTED)
def test_listmonk_documented_expressions(source: str, expected: str) -> None:
    assert render(source) == expected


def test_shorthand_rewrites_match_listmonk_regexes() -> None:
    assert rewrite_shorthands('{{ TrackLink "https://a.com/x?y=1" }}') == \
        '{{ TrackLink "https://a.com/x?y=1" . }}'
    assert rewrite_shorthands("https://a.com/p?q=1&r=(2)@TrackLink") == \
        '{{ TrackLink "https://a.com/p?q=1&r=(2)" . }}'
    assert rewrite_shorthands("{{TrackView}} {{ UnsubscribeURL }}") == \
        "{{ TrackView . }} {{ UnsubscribeURL . }}"
    assert rewrite_shorthands("{{ RootURL }}") == "{{ RootURL }}"


def test_tracked_links_unescape_amp_and_can_be_individual_or_disabled() -> None:
    seen: list[str] = []

    def register(url: str) -> str:
        seen.append(url)
        return "L1"

    out = render('{{ TrackLink "https://x.com/?a=1&amp;b=2" }}', link_uuid=register,
                 individual_tracking=True)
    assert out == f"{ROOT}/link/L1/c-1/s-1"
    assert seen == ["https://x.com/?a=1&b=2"]
    assert render('{{ TrackLink "https://x.com/" }}{{ TrackView }}', disable_tracking=True) == \
        "https://x.com/"


def test_tracklink_with_trim_markers_is_not_rewritten_and_fails_like_listmonk() -> None:
    with pytest.raises(TemplateError, match="wrong number of args for TrackLink: want 2 got 1"):
        render('{{- TrackLink "https://x.com" -}}')


def test_campaign_template_wraps_body_and_strips_html_comments() -> None:
    template_body = """<!DOCTYPE html>
<html><head><style>body { background: #eee; }</style></head>
<body><header><!-- This will appear in the header of all e-mails. //-->
Hi {{ .Subscriber.FirstName }}!</header>
<div class="content">{{ template "content" . }}</div>
{{ TrackView }}</body></html>"""
    body = ('<p>Your last name is {{.Subscriber.LastName }}.</p>\n'
            '<a href="{{ TrackLink "https://google.com" }}">Google</a>')
    template = compile_campaign_body(body, funcs=funcs(), template_body=template_body)
    out = template.render(message())
    assert "<!--" not in out
    assert "Hi Jane!</header>" in out
    assert "<p>Your last name is Doe.</p>" in out
    assert f'<a href="{ROOT}/link/L-google.com/c-1/{DUMMY}">Google</a>' in out
    assert out.startswith("<!DOCTYPE html>")
    assert "body { background: #eee; }" in out


def test_campaign_compiled_once_renders_per_subscriber() -> None:
    template = compile_campaign_body("Hello {{ .Subscriber.FirstName }} from {{ "
                                     ".Subscriber.Attribs.city }}", funcs=funcs())
    outputs = [template.render(message(name, city))
               for name, city in [("Alan Bo", "Pune"), ("Al Bo", "Goa & Co")]]
    assert outputs == ["Hello Alan from Pune", "Hello Al Bo from Goa &amp; Co"]


def test_markdown_campaign_body_is_converted_before_templating() -> None:
    body = "# Hello {{ .Subscriber.FirstName }}\n\nVisit [us](https://x.com@TrackLink)."
    out = compile_campaign_body(body, funcs=funcs(), content_type="markdown").render(message())
    assert out.startswith('<h1 id="hello--subscriberfirstname-">Hello Jane</h1>')
    assert f'<a href="{ROOT}/link/L-x.com/c-1/{DUMMY}">us</a>' in out


def test_subject_is_a_text_template_and_plain_subjects_stay_literal() -> None:
    subject = compile_subject("News for {{ .Subscriber.FirstName }} & friends", funcs=funcs())
    assert subject.render(message("O'Brien Sean")) == "News for O'Brien & friends"
    assert compile_subject("Plain {subject}", funcs=funcs()).render(None) == "Plain {subject}"


def test_altbody_is_escaped_like_listmonk_html_template() -> None:
    alt = compile_altbody("Hi {{ .Subscriber.FirstName }}", funcs=funcs())
    assert alt.render(message("O'Brien Sean")) == "Hi O&#39;Brien"


def test_compile_error_names_template_and_line() -> None:
    with pytest.raises(TemplateError, match=r"^template: content:2: function \"Nope\" not"):
        compile_campaign_body("line 1\n{{ Nope }}", funcs=funcs())


def test_tx_style_data_with_plain_dicts() -> None:
    template = compile_template("Order {{ .Tx.Data.order_id }} for {{ .Subscriber.Name }}",
                                funcs=generic_funcs(clock=lambda: NOW))
    data = {"Subscriber": {"Name": "Ann"}, "Tx": {"Data": {"order_id": 1234.0}}}
    assert template.render(data) == "Order 1234 for Ann"


def test_first_and_last_name_follow_listmonk_rules() -> None:
    assert (first_name("Jo Ann Smith"), last_name("Jo Ann Smith")) == ("Ann", "Smith")
    assert (first_name("Al"), last_name("Al")) == ("Al", "Al")


def test_markdown_matches_goldmark_features() -> None:
    html = markdown_to_html("## Title Two\n\n- [x] done\n\n~~old~~ <b>raw</b>\n\n---\n")
    assert '<h2 id="title-two">Title Two</h2>' in html
    assert '<input checked="" disabled="" type="checkbox" />' in html
    assert "<del>old</del> <b>raw</b>" in html
    assert "<hr />" in html


def test_html_to_text_for_alt_bodies() -> None:
    html = ("<html><head><title>T</title><style>p{}</style></head><body><h1>News</h1>"
            "<p>Hello <b>Jane</b> &amp; co,<br>see <a href=\"https://x.com/a\">this</a>.</p>"
            "<ul><li>one</li><li>two</li></ul><script>x()</script></body></html>")
    assert html_to_text(html) == ("News\n\nHello Jane & co,\nsee this (https://x.com/a).\n\n"
                                  "- one\n- two")
