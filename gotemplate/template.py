"""Compile once, render many: the public entry point of the template engine.

``compile_template(source, name=..., funcs=..., mode="html"|"text")`` parses the source
(plus optional extra named templates), checks that every function exists, and in HTML
mode runs html/template's contextual escaping. The returned Template renders caller
data any number of times, concurrently, each render bounded by ``Limits``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal

from .autoescape import Escaper, escape_entry
from .escapers import ESCAPERS
from .evaluate import FuncEntry
from .exec import Executor
from .funcs_builtin import BUILTINS
from .gostrings import go_quote
from .nodes import Tree
from .parser import parse
from .values import Limits, TemplateError, signature_of

Mode = Literal["html", "text"]
FuncMap = Mapping[str, Callable[..., Any]]


def _func_entries(funcs: FuncMap | None) -> dict[str, FuncEntry]:
    entries = dict(BUILTINS)
    for name, fn in (funcs or {}).items():
        if not callable(fn):
            raise TemplateError(f"template: value for {name} not a function")
        if not name or not (name[0].isalpha() or name[0] == "_") or not all(
                c == "_" or c.isalnum() for c in name):
            raise TemplateError(f"template: function name {go_quote(name)} is not a valid "
                                "identifier")
        entries[name] = FuncEntry(name, fn, signature_of(fn))
    return entries


class Template:
    """A compiled template set; ``render`` executes the entry template."""

    def __init__(self, name: str, trees: dict[str, Tree], funcs: dict[str, FuncEntry],
                 mode: Mode, limits: Limits) -> None:
        self.name = name
        self.mode = mode
        self.limits = limits
        self._trees = trees
        self._funcs = {**funcs, **ESCAPERS}
        self._escaper = Escaper(trees) if mode == "html" else None
        self._escape_errors: dict[str, TemplateError] = {}
        self._escaped: set[str] = set()
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        """Names of every template in the set (the entry and each define/block)."""
        return sorted(n for n in self._trees if "$htmltemplate_" not in n)

    def escape(self, name: str) -> None:
        """Run contextual escaping for template name (once); raise if it cannot be escaped."""
        if self._escaper is None or name in self._escaped:
            return
        with self._lock:
            if name in self._escape_errors:
                raise self._escape_errors[name]
            if name in self._escaped:
                return
            if name not in self._trees:
                raise TemplateError(f"html/template: {go_quote(name)} is undefined")
            try:
                try:
                    escape_entry(self._escaper, name)
                except RecursionError:
                    raise TemplateError(
                        f"html/template: {name}: template nested too deeply") from None
            except TemplateError as exc:
                self._escape_errors[name] = exc
                raise
            self._escaped.add(name)

    def render(self, data: Any = None, limits: Limits | None = None) -> str:
        """Execute the entry template over data and return the output."""
        return self.render_template(self.name, data, limits)

    def render_template(self, name: str, data: Any = None, limits: Limits | None = None) -> str:
        """Execute the named template of the set (Go's ExecuteTemplate)."""
        if name not in self._trees or "$htmltemplate_" in name:
            raise TemplateError(
                f"template: no template {go_quote(name)} associated with template "
                f"{go_quote(self.name)}")
        self.escape(name)
        executor = Executor(self._trees, self._funcs, limits or self.limits,
                            text_mode=self.mode == "text")
        return executor.run(name, data)


def compile_template(source: str, *, name: str = "content", funcs: FuncMap | None = None,
                     mode: Mode = "html", templates: Mapping[str, str] | None = None,
                     limits: Limits | None = None, defer_escape_errors: bool = False,
                     max_source: int = 2 * 1024 * 1024) -> Template:
    """Parse and (in HTML mode) escape a template; raise TemplateError like Go would.

    ``templates`` adds more named templates (each parsed separately, as Go's
    AddParseTree does), e.g. ``{"content": campaign_body}`` for a base template that calls
    ``{{ template "content" . }}``. Go reports escaping problems at first execution; we
    report them here unless ``defer_escape_errors`` is set.
    """
    if mode not in ("html", "text"):
        raise ValueError(f"unknown template mode {mode!r}")
    entries = _func_entries(funcs)

    def has_function(fn_name: str) -> bool:
        return fn_name in entries

    sources = [(name, source), *(templates or {}).items()]
    trees: dict[str, Tree] = {}
    for tname, text in sources:
        if len(text) > max_source:
            raise TemplateError(f"template: {tname}: template text exceeds {max_source} bytes")
        try:
            parsed = parse(tname, text, has_function)
        except RecursionError:
            raise TemplateError(f"template: {tname}: template nested too deeply") from None
        trees.update(parsed)
    template = Template(name, trees, entries, mode, limits or Limits())
    if mode == "html":
        try:
            template.escape(name)
        except TemplateError:
            if not defer_escape_errors:
                raise
    return template
