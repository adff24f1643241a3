"""Compiling campaign and transactional message parts the way listmonk does.

Mirrors listmonk's Campaign.CompileTemplate: the campaign template ("base") wraps the
body ("content", Markdown converted first) via ``{{ template "content" . }}``; both are
HTML templates after listmonk's shorthand rewrites. Subjects and headers are text
templates; the alt body is an HTML template. Parts without ``{{ }}`` stay literal.
"""

from __future__ import annotations

from dataclasses import dataclass

from gotemplate.template import FuncMap, Template, compile_template
from gotemplate.values import Limits

from .funcs_listmonk import has_template_expr, rewrite_shorthands
from .markdown import markdown_to_html

BASE_TPL = "base"
CONTENT_TPL = "content"
DEFAULT_BASE = '{{ template "content" . }}'


@dataclass(frozen=True, slots=True)
class Literal:
    """A message part with no template expressions: rendered as is."""

    text: str

    def render(self, data: object = None) -> str:
        return self.text


def compile_campaign_body(body: str, *, funcs: FuncMap, content_type: str = "richtext",
                          template_body: str | None = None,
                          limits: Limits | None = None) -> Template:
    """The campaign's message template: base template wrapping the (converted) body."""
    base = template_body or DEFAULT_BASE
    if content_type == "visual":
        base = DEFAULT_BASE
    content = markdown_to_html(body) if content_type == "markdown" else body
    return compile_template(rewrite_shorthands(base), name=BASE_TPL, funcs=funcs, mode="html",
                            templates={CONTENT_TPL: rewrite_shorthands(content)},
                            limits=limits)


def compile_subject(subject: str, *, funcs: FuncMap,
                    limits: Limits | None = None) -> Template | Literal:
    """A campaign subject: a text template when it contains an expression."""
    if not has_template_expr(subject):
        return Literal(subject)
    return compile_template(rewrite_shorthands(subject), name=CONTENT_TPL, funcs=funcs,
                            mode="text", limits=limits)


def compile_altbody(altbody: str, *, funcs: FuncMap,
                    limits: Limits | None = None) -> Template | Literal:
    """A campaign's alternative plain-text body (an HTML template in listmonk)."""
    if not has_template_expr(altbody):
        return Literal(altbody)
    return compile_template(rewrite_shorthands(altbody), name=CONTENT_TPL, funcs=funcs,
                            mode="html", limits=limits)


def compile_header(value: str, *, funcs: FuncMap,
                   limits: Limits | None = None) -> Template | Literal:
    """A campaign header value (text template, no shorthand rewrites)."""
    if not has_template_expr(value):
        return Literal(value)
    return compile_template(value, name=CONTENT_TPL, funcs=funcs, mode="text", limits=limits)


def compile_tx_body(body: str, *, funcs: FuncMap, limits: Limits | None = None) -> Template:
    """A transactional template body (HTML template named "base", no rewrites)."""
    return compile_template(body, name=BASE_TPL, funcs=funcs, mode="html", limits=limits)


def compile_tx_text(text: str, *, funcs: FuncMap,
                    limits: Limits | None = None) -> Template | Literal:
    """A transactional subject or alt body (text template named "base")."""
    if not has_template_expr(text):
        return Literal(text)
    return compile_template(text, name=BASE_TPL, funcs=funcs, mode="text", limits=limits)
