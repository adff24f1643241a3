"""``POST /api/campaigns/:id/content``'s conversion (no I/O): listmonk's server converts
Markdown to HTML (for ``html`` and ``richtext``) and refuses every other pair."""

from __future__ import annotations

from itertools import product

import pytest

from kernel.errors import InvalidInput
from services.command_api.campaigns.convert import CONVERSIONS, UNKNOWN_FORMATS, convert_content
from services.sender.templating import markdown_to_html

TYPES = ("richtext", "html", "markdown", "plain", "visual")
MARKDOWN = "# Title\n\nSome *emphasis* and a [link](https://example.com).\n\n- one\n- two\n"


@pytest.mark.parametrize("target", ["html", "richtext"])
def test_markdown_becomes_the_html_campaign_mail_would_have(target: str) -> None:
    out = convert_content(MARKDOWN, "markdown", target)
    assert out == markdown_to_html(MARKDOWN)
    assert '<h1 id="title">Title</h1>' in out
    assert "<em>emphasis</em>" in out
    assert '<a href="https://example.com">link</a>' in out
    assert "<li>one</li>" in out


def test_template_expressions_survive_the_conversion() -> None:
    out = convert_content("Hi {{ .Subscriber.FirstName }}", "markdown", "html")
    assert out.strip() == "<p>Hi {{ .Subscriber.FirstName }}</p>"


@pytest.mark.parametrize(("source", "target"), [
    pair for pair in product(TYPES, TYPES) if pair not in CONVERSIONS])
def test_every_other_pair_is_refused_as_listmonk(source: str, target: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        convert_content("<p>x</p>", source, target)
    assert refused.value.message == UNKNOWN_FORMATS


def test_unknown_types_are_refused() -> None:
    with pytest.raises(InvalidInput):
        convert_content("x", "", "")
    with pytest.raises(InvalidInput):
        convert_content("x", "markdown", "pdf")
