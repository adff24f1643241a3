"""A plain-text rendering of an HTML message, for the text/plain alternative part.

Dependency-free: block elements become line breaks, list items get "- ", links keep
their address as ``text (url)``, scripts/styles/head are dropped, entities decoded and
white space collapsed.

The sender derives one for every HTML campaign message without an alt body, so the parser is
made cheaper without changing what it reads (``_QuickExtractor``): positions are not counted
(nothing reads them) and start tags are parsed once per distinct tag text (a campaign's
messages share most of their tags), from a copy of ``HTMLParser.parse_starttag``. The
original parser is the reference: ``tests/unit/test_plaintext.py`` compares both.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser, attrfind_tolerant, tagfind_tolerant  # type: ignore[attr-defined]

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
        self.parts.append(data if self.pre else _SPACES.sub(" ", data))


_SPACES = re.compile(r"[ \t\r\n\f]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# Start tag text -> (tag, attributes, how it was read): "start", "startend" or "data".
_StartTag = tuple[str, list[tuple[str, str | None]], str]
_START_TAGS: dict[str, _StartTag] = {}
_START_TAGS_MAX = 8192


class _QuickExtractor(_TextExtractor):
    """``_TextExtractor`` reading the same events for less: see the module docstring."""

    def updatepos(self, i: int, j: int) -> int:
        return j  # line and offset are only for getpos(), never called here

    def parse_starttag(self, i: int) -> int:
        endpos: int = self.check_for_whole_start_tag(i)
        if endpos < 0:
            return endpos
        text = self.rawdata[i:endpos]
        found = _START_TAGS.get(text)
        if found is None:
            found = self._read_starttag(i, endpos, text)
        tag, attrs, how = found
        self._HTMLParser__starttag_text = text
        self.lasttag = tag
        if how == "data":
            self.handle_data(text)
        elif how == "startend":
            self.handle_startendtag(tag, attrs)
        else:
            self.handle_starttag(tag, attrs)
            if tag in self.CDATA_CONTENT_ELEMENTS:
                self.set_cdata_mode(tag)
        return endpos

    def _read_starttag(self, i: int, endpos: int, text: str) -> _StartTag:
        """What ``HTMLParser.parse_starttag`` (Python 3.11) reads from the tag at ``i``;
        remembered when nothing beyond the tag's text was read."""
        rawdata = self.rawdata
        attrs: list[tuple[str, str | None]] = []
        match = tagfind_tolerant.match(rawdata, i + 1)
        assert match, "unexpected call to parse_starttag()"
        k = match.end()
        tag = match.group(1).lower()
        within = text.endswith(">")
        while k < endpos:
            m = attrfind_tolerant.match(rawdata, k)
            if not m:
                break
            attrname, rest, attrvalue = m.group(1, 2, 3)
            if not rest:
                attrvalue = None
            elif attrvalue[:1] == "'" == attrvalue[-1:] or \
                    attrvalue[:1] == '"' == attrvalue[-1:]:
                attrvalue = attrvalue[1:-1]
            if attrvalue:
                attrvalue = unescape(attrvalue)
            attrs.append((attrname.lower(), attrvalue))
            k = m.end()
            within = within and k <= endpos
        end = rawdata[k:endpos].strip()
        how = "data" if end not in (">", "/>") else "startend" if end.endswith("/>") \
            else "start"
        found = (tag, attrs, how)
        if within:
            if len(_START_TAGS) >= _START_TAGS_MAX:
                _START_TAGS.clear()
            _START_TAGS[text] = found
        return found


def html_to_text(html: str) -> str:
    """Plain text of an HTML document or fragment."""
    return _text_of(_QuickExtractor(), html)


def _text_of(parser: _TextExtractor, html: str) -> str:
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip(" ") for line in text.split("\n")]
    text = "\n".join(lines)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()
