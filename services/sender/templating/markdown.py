"""Markdown to HTML for campaigns whose content_type is ``markdown``.

listmonk uses goldmark with GFM tables, strikethrough, task lists, a typographer (straight
double quotes kept), automatic heading ids, XHTML output and raw HTML allowed. We use
markdown-it-py (CommonMark) configured the same way; heading ids follow goldmark's rule.
Differences are cosmetic (typographic characters as Unicode rather than entities,
table alignment as ``style`` rather than ``align``); see docs/templates.md.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token


def heading_id(text: str, seen: set[str]) -> str:
    """goldmark's auto heading id: ASCII alphanumerics lower-cased, spaces/-/_ to '-'."""
    out = []
    for ch in text.strip():
        if not ch.isascii():
            continue
        if ch.isalnum():
            out.append(ch.lower())
        elif ch in " \t\n\r\f\v-_":
            out.append("-")
    base = "".join(out) or "heading"
    candidate, n = base, 1
    while candidate in seen:
        candidate = f"{base}-{n}"
        n += 1
    seen.add(candidate)
    return candidate


def _inline_text(token: Token) -> str:
    if not token.children:
        return token.content
    return "".join(c.content for c in token.children if c.type in ("text", "code_inline"))


def _heading_ids(state: StateCore) -> None:
    seen: set[str] = set()
    tokens = state.tokens
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and i + 1 < len(tokens):
            tok.attrSet("id", heading_id(_inline_text(tokens[i + 1]), seen))


def _task_lists(state: StateCore) -> None:
    tokens = state.tokens
    for i, tok in enumerate(tokens):
        if tok.type != "inline" or i < 2 or tokens[i - 2].type != "list_item_open":
            continue
        children = tok.children or []
        if not children or children[0].type != "text":
            continue
        text = children[0].content
        if len(text) < 3 or text[0] != "[" or text[2] != "]" or text[1] not in " xX":
            continue
        if len(text) > 3 and text[3] not in " \t":
            continue
        checked = ' checked=""' if text[1] in "xX" else ""
        box = Token("html_inline", "", 0)
        box.content = f'<input{checked} disabled="" type="checkbox" />'
        children[0].content = text[3:]
        tok.children = [box, *children]


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "xhtmlOut": True, "typographer": True,
                                   "quotes": '""\u2018\u2019'})
    md.enable(["table", "strikethrough", "smartquotes", "replacements"])
    md.add_render_rule("s_open", lambda *args: "<del>")
    md.add_render_rule("s_close", lambda *args: "</del>")
    md.core.ruler.push("heading_ids", _heading_ids)
    md.core.ruler.push("task_lists", _task_lists)
    return md


def markdown_to_html(text: str) -> str:
    """Render a Markdown campaign body to HTML the way listmonk's goldmark setup does."""
    return str(_renderer().render(text))
