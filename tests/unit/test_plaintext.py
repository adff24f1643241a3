"""The text alternative of an HTML message: what ``html_to_text`` makes of common markup, and
the quick parser reading exactly what ``HTMLParser`` reads (compared on markup made to trip
a tokenizer: broken tags, quotes, entities, script and style, comments, the same tag text
seen again)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.sender.templating.plaintext import _text_of, _TextExtractor, html_to_text

ROOT = Path(__file__).resolve().parents[2]


def reference(html: str) -> str:
    """``html_to_text`` on the stock ``HTMLParser``."""
    return _text_of(_TextExtractor(), html)


@pytest.mark.parametrize(("html", "text"), [
    ("<p>Hello <b>Ana</b></p><p>Bye</p>", "Hello Ana\n\nBye"),
    ('<a href="https://x.example/a?b=1&amp;c=2">read</a>',
     "read (https://x.example/a?b=1&c=2)"),
    ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
    ("<style>p { color: red }</style><script>x < 1</script><p>kept</p>", "kept"),
    ("<pre>a\n  b</pre>", "a\nb"),  # lines are trimmed, even in <pre>
    ('<img alt="logo" src="x.png"><br/>x', "logo\nx"),
    ("a &lt; b &amp;&amp; c", "a < b && c"),
])
def test_common_markup_reads_as_text(html: str, text: str) -> None:
    assert html_to_text(html) == text == reference(html)


def test_the_default_templates_read_the_same_with_both_parsers() -> None:
    for path in (ROOT / "services/command_api/templates/defaults").glob("*.html"):
        html = path.read_text()
        for _ in range(2):  # the second time from remembered tags
            assert html_to_text(html) == reference(html), path.name


_PIECES = st.sampled_from([
    "<p>", "</p>", "<P CLASS=x>", "<a href=\"https://e.example/x\">", "<a href='mailto:a@b'>",
    "</a>", "<a href=https://bare.example/>", "<br>", "<br/>", "<br />", "<img alt=\"A&amp;B\">",
    "<li>", "<pre>", "</pre>", "<script>", "</script>", "<style>", "</ STYLE >", "<title>",
    "</title>", "<!-- c -->", "<!--", "-->", "<!doctype html>", "<?pi?>", "<", ">", "</", "&",
    "&amp;", "&#65;", "&#x41;", "&nbsp;", "&bogus", "\"", "'", "=", " ", "\t", "\n", "\r\n",
    "text", "é", "<td>", "<h1 id=\"a\" hidden>", "</h1>", "<div\n class=\"a\">", "<a b=\"c",
    "<x y='z'/>", "</x y>", "<template>", "</template>", "<noscript>",
])
_HTML = st.lists(_PIECES | st.text(max_size=5), max_size=40).map("".join)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html=_HTML)
def test_the_quick_parser_reads_what_htmlparser_reads(html: str) -> None:
    assert html_to_text(html) == reference(html)
    assert html_to_text(html) == reference(html)  # again, from remembered tags
