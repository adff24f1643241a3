"""A plain-text rendering of an HTML message, for the text/plain alternative part.

Dependency-free: block elements become line breaks, list items get "- ", links keep
their address as ``text (url)``, scripts/styles/head are dropped, entities decoded and
white space collapsed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "section", "article", "header", "footer", "main", "aside", "nav",
           "table", "thead", "tbody", "tfoot", "tr", "ul", "ol", "dl", "dt", "dd",
           "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "form",
           "fieldset", "address", "figure", "figcaption", "center"}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.pre = 0
        self.links: list[tuple[str, int]] = []

    def newline(self, count: int = 1) -> None:
        self.parts.append("\n" * count)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.newline()
        elif tag == "li":
            self.newline()
            self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "pre":
            self.pre += 1
            self.newline(2)
        elif tag in _BLOCKS:
            self.newline(2 if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "hr") else 1)
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href, len(self.parts)))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt and not self.skip:
                self.parts.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _SKIP:
            self.skip -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self.newline(2)
        elif tag in _BLOCKS:
            self.newline(2 if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6") else 1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = "".join(self.parts[start:]).strip()
            if href.startswith(("http://", "https://", "mailto:")) and href not in (
                    text, "mailto:" + text):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.parts.append(data if self.pre else re.sub(r"[ \t\r\n\f]+", " ", data))


def html_to_text(html: str) -> str:
    """Plain text of an HTML document or fragment."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip(" ") for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
