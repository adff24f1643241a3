"""html/template's contextual autoescaping pass (html/template/escape.go).

Before a template set is executed in HTML mode, this pass walks the entry template and
every template it calls, tracking the HTML context (see context.py) through text and
control flow. It then rewrites each output action to end in the escapers its context
needs, strips HTML/JS/CSS comments from template text, escapes stray ``<`` in text, and
creates per-context copies of templates called from more than one context.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

from . import context as cx
from .context import Context, EscapeError
from .gostrings import go_quote
from .nodes import (
    ActionNode,
    BranchNode,
    BreakNode,
    ContinueNode,
    IdentifierNode,
    ListNode,
    Node,
    RangeNode,
    TemplateNode,
    TextNode,
    Tree,
    WithNode,
)
from .pipeline_edit import PREDEFINED, ensure_pipeline_contains
from .transition import context_after_text
from .values import TemplateError


def nudge(c: Context) -> Context:
    """The context after empty-string transitions (e.g. ``<a href=`` then a value)."""
    if c.state == cx.TAG:
        return c._replace(state=cx.ATTR_NAME)
    if c.state == cx.BEFORE_VALUE:
        return c._replace(state=cx.ATTR_START[c.attr], delim=cx.DELIM_SPACE, attr=cx.ATTR_NONE)
    if c.state == cx.AFTER_NAME:
        return c._replace(state=cx.ATTR_NAME, attr=cx.ATTR_NONE)
    return c


def join(a: Context, b: Context, node: Node | None, name: str) -> Context:
    """The context after a branch whose arms end in a and b (an error if irreconcilable)."""
    if a.state == cx.ERROR:
        return a
    if b.state == cx.ERROR:
        return b
    if a.state == cx.DEAD:
        return b
    if b.state == cx.DEAD:
        return a
    if a == b:
        return a
    if a._replace(url_part=b.url_part) == b:
        return a._replace(url_part=cx.URL_UNKNOWN)
    if a._replace(js_ctx=b.js_ctx) == b:
        return a._replace(js_ctx=cx.JS_UNKNOWN)
    na, nb = nudge(a), nudge(b)
    if not (na == a and nb == b):
        e = join(na, nb, node, name)
        if e.state != cx.ERROR:
            return e
    return Context(state=cx.ERROR, err=EscapeError(
        f"{{{{{name}}}}} branches end in different contexts: {a.describe()}, {b.describe()}",
        node))


@dataclass
class _RangeContext:
    outer: _RangeContext | None
    breaks: list[tuple[Context, Node]] = field(default_factory=list)
    continues: list[tuple[Context, Node]] = field(default_factory=list)


class Escaper:
    """Collects context inferences and the edits that make a template set safe."""

    def __init__(self, trees: MutableMapping[str, Tree]) -> None:
        self.trees = trees
        self.output: dict[str, Context] = {}
        self.derived: dict[str, Tree] = {}
        self.called: set[str] = set()
        self.action_edits: dict[int, tuple[ActionNode, list[str]]] = {}
        self.template_edits: dict[int, tuple[TemplateNode, str]] = {}
        self.text_edits: dict[int, tuple[TextNode, str]] = {}
        self.range_ctx: _RangeContext | None = None

    def escape(self, c: Context, n: Node) -> Context:
        if isinstance(n, ActionNode):
            return self.escape_action(c, n)
        if isinstance(n, BreakNode | ContinueNode):
            assert self.range_ctx is not None
            target = self.range_ctx.breaks if isinstance(n, BreakNode) else \
                self.range_ctx.continues
            target.append((c, n))
            return Context(state=cx.DEAD)
        if isinstance(n, BranchNode):
            name = "range" if isinstance(n, RangeNode) else (
                "with" if isinstance(n, WithNode) else "if")
            return self.escape_branch(c, n, name)
        if isinstance(n, ListNode):
            return self.escape_list(c, n)
        if isinstance(n, TemplateNode):
            return self.escape_template(c, n)
        if isinstance(n, TextNode):
            return self.escape_text(c, n)
        raise TemplateError(f"html/template: escaping {n} is unimplemented")

    def escape_action(self, c: Context, n: ActionNode) -> Context:
        assert n.pipe is not None
        if n.pipe.decl:
            return c
        c = nudge(c)
        for pos, cmd in enumerate(n.pipe.cmds):
            first = cmd.args[0]
            if isinstance(first, IdentifierNode) and first.ident in PREDEFINED and (
                    pos < len(n.pipe.cmds) - 1 or (
                        c.state == cx.ATTR and c.delim == cx.DELIM_SPACE
                        and first.ident == "html")):
                return Context(state=cx.ERROR, err=EscapeError(
                    f"predefined escaper {go_quote(first.ident)} disallowed in template", n))
        s: list[str] = []
        st = c.state
        if st == cx.ERROR:
            return c
        if st in (cx.URL, cx.CSS_DQ_STR, cx.CSS_SQ_STR, cx.CSS_DQ_URL, cx.CSS_SQ_URL, cx.CSS_URL):
            if c.url_part == cx.URL_NONE:
                s.append("_html_template_urlfilter")
            if c.url_part in (cx.URL_NONE, cx.URL_PRE_QUERY):
                s.append("_html_template_cssescaper" if st in (cx.CSS_DQ_STR, cx.CSS_SQ_STR)
                         else "_html_template_urlnormalizer")
            elif c.url_part == cx.URL_QUERY_OR_FRAG:
                s.append("_html_template_urlescaper")
            else:
                return Context(state=cx.ERROR, err=EscapeError(
                    f"{n} appears in an ambiguous context within a URL", n))
        elif st == cx.JS:
            s.append("_html_template_jsvalescaper")
            c = c._replace(js_ctx=cx.JS_DIV_OP)
        elif st in (cx.JS_DQ_STR, cx.JS_SQ_STR):
            s.append("_html_template_jsstrescaper")
        elif st == cx.JS_BQ_STR:
            return Context(state=cx.ERROR, err=EscapeError(
                f"{n} appears in a JS template literal", n))
        elif st == cx.JS_REGEXP:
            s.append("_html_template_jsregexpescaper")
        elif st == cx.CSS:
            s.append("_html_template_cssvaluefilter")
        elif st == cx.TEXT:
            s.append("_html_template_htmlescaper")
        elif st == cx.RCDATA:
            s.append("_html_template_rcdataescaper")
        elif st in (cx.ATTR_NAME, cx.TAG):
            c = c._replace(state=cx.ATTR_NAME)
            s.append("_html_template_htmlnamefilter")
        elif st == cx.SRCSET:
            s.append("_html_template_srcsetescaper")
        elif st in cx.COMMENT_STATES:
            s.append("_html_template_commentescaper")
        elif st != cx.ATTR:
            raise TemplateError(f"html/template: unexpected state {cx.STATE_NAMES[st]}")
        if c.delim == cx.DELIM_SPACE:
            s.append("_html_template_nospaceescaper")
        elif c.delim != cx.DELIM_NONE:
            s.append("_html_template_attrescaper")
        self.action_edits[id(n)] = (n, s)
        return c

    def escape_branch(self, c: Context, n: BranchNode, name: str) -> Context:
        assert n.body is not None
        if name == "range":
            self.range_ctx = _RangeContext(self.range_ctx)
        c0 = self.escape_list(c, n.body)
        if name == "range":
            assert self.range_ctx is not None
            if c0.state != cx.ERROR:
                c0 = self.join_range(c0, self.range_ctx)
            self.range_ctx = self.range_ctx.outer
            if c0.state == cx.ERROR:
                return c0
            # The body may run again: running it twice must end where running it once did.
            self.range_ctx = _RangeContext(self.range_ctx)
            c1, _ = self.escape_list_conditionally(c0, n.body, None)
            c0 = join(c0, c1, n, name)
            if c0.state == cx.ERROR:
                self.range_ctx = self.range_ctx.outer
                assert c0.err is not None
                c0.err.description = "on range loop re-entry: " + c0.err.description
                c0.err.node = n
                return c0
            c0 = self.join_range(c0, self.range_ctx)
            self.range_ctx = self.range_ctx.outer
            if c0.state == cx.ERROR:
                return c0
        c1 = self.escape_list(c, n.else_list)
        return join(c0, c1, n, name)

    def join_range(self, c0: Context, rc: _RangeContext) -> Context:
        for c, node in [*rc.breaks, *rc.continues]:
            c0 = join(c0, c, node, "range")
            if c0.state == cx.ERROR:
                return c0
        return c0

    def escape_list(self, c: Context, n: ListNode | None) -> Context:
        if n is None:
            return c
        for m in n.nodes:
            c = self.escape(c, m)
            if c.state == cx.DEAD:
                break
        return c

    def escape_list_conditionally(
            self, c: Context, n: ListNode,
            keep: Callable[[Escaper, Context], bool] | None) -> tuple[Context, bool]:
        e1 = Escaper(self.trees)
        e1.range_ctx = self.range_ctx
        e1.output = dict(self.output)
        e1.derived = self.derived
        c = e1.escape_list(c, n)
        ok = keep is not None and keep(e1, c)
        if ok:
            self.output.update(e1.output)
            self.called |= e1.called
            self.action_edits.update(e1.action_edits)
            self.template_edits.update(e1.template_edits)
            self.text_edits.update(e1.text_edits)
        return c, ok

    def escape_template(self, c: Context, n: TemplateNode) -> Context:
        c, name = self.escape_tree(c, n, n.name)
        if name != n.name:
            self.template_edits[id(n)] = (n, name)
        return c

    def lookup(self, name: str) -> Tree | None:
        return self.trees.get(name) or self.derived.get(name)

    def escape_tree(self, c: Context, node: Node | None, name: str) -> tuple[Context, str]:
        dname = c.mangle(name)
        self.called.add(dname)
        if dname in self.output:
            return self.output[dname], dname
        tree = self.lookup(name)
        if tree is None:
            return Context(state=cx.ERROR, err=EscapeError(
                f"no such template {go_quote(name)}", node)), dname
        if dname != name:
            derived = self.lookup(dname)
            if derived is None:
                derived = Tree(dname, _copy_list(tree.root), tree.src)
                self.derived[dname] = derived
            tree = derived
        return self.compute_out_ctx(c, tree), dname

    def compute_out_ctx(self, c: Context, tree: Tree) -> Context:
        c1, ok = self.escape_template_body(c, tree)
        if not ok:
            c2, ok2 = self.escape_template_body(c1, tree)
            if ok2:
                c1, ok = c2, True
        if not ok and c1.state != cx.ERROR:
            return Context(state=cx.ERROR, err=EscapeError(
                f"cannot compute output context for template {tree.name}", tree.root))
        return c1

    def escape_template_body(self, c: Context, tree: Tree) -> tuple[Context, bool]:
        def keep(e1: Escaper, c1: Context) -> bool:
            if c1.state == cx.ERROR:
                return False
            if tree.name not in e1.called:
                return True
            return c == c1

        self.output[tree.name] = c
        return self.escape_list_conditionally(c, tree.root, keep)

    def escape_text(self, c: Context, n: TextNode) -> Context:
        s, written, i = n.text, 0, 0
        out: list[str] = []
        while i != len(s):
            c1, nread = context_after_text(c, s[i:])
            i1 = i + nread
            if c.state in (cx.TEXT, cx.RCDATA):
                end = i1
                if c1.state != c.state:
                    k = s.rfind("<", i, end)
                    if k >= 0:
                        end = k
                for j in range(i, end):
                    if s[j] == "<" and not s[j:j + 9].upper().startswith("<!DOCTYPE"):
                        out.append(s[written:j])
                        out.append("&lt;")
                        written = j + 1
            elif c.state in cx.COMMENT_STATES and c.delim == cx.DELIM_NONE:
                if c.state == cx.JS_BLOCK_CMT:
                    has_nl = any(ch in s[written:i1] for ch in "\n\r\u2028\u2029")
                    out.append("\n" if has_nl else " ")
                elif c.state == cx.CSS_BLOCK_CMT:
                    out.append(" ")
                written = i1
            if c.state != c1.state and c1.state in cx.COMMENT_STATES and c1.delim == cx.DELIM_NONE:
                cs = i1 - 2
                if c1.state in (cx.HTML_CMT, cx.JS_HTML_OPEN_CMT):
                    cs -= 2
                elif c1.state == cx.JS_HTML_CLOSE_CMT:
                    cs -= 1
                out.append(s[written:cs])
                written = i1
            if i == i1 and c.state == c1.state:
                raise TemplateError(f"html/template: infinite loop from {c.describe()} on {s!r}")
            c, i = c1, i1
        if c.state == cx.ERROR and c.err is not None and c.err.node is None:
            c.err.node = n
        if written != 0 and c.state != cx.ERROR:
            if c.state not in cx.COMMENT_STATES or c.delim != cx.DELIM_NONE:
                out.append(s[written:])
            self.text_edits[id(n)] = (n, "".join(out))
        return c

    def commit(self) -> None:
        for name, tree in self.derived.items():
            self.trees[name] = tree
        for node, names in self.action_edits.values():
            assert node.pipe is not None
            ensure_pipeline_contains(node.pipe, list(names))
        for tnode, callee in self.template_edits.values():
            tnode.name = callee
        for text_node, text in self.text_edits.values():
            text_node.text = text
        self.called = set()
        self.action_edits, self.template_edits, self.text_edits = {}, {}, {}


def _copy_list(root: ListNode) -> ListNode:
    """A deep copy of a template body that still points at the same source text."""
    return copy.deepcopy(root, {id(root.src): root.src})


def escape_entry(e: Escaper, name: str) -> None:
    """Escape template name (and what it calls) in place; raise TemplateError if unsafe."""
    c, _ = e.escape_tree(Context(), None, name)
    err: EscapeError | None = c.err
    if err is None and c.state != cx.TEXT:
        err = EscapeError(f"ends in a non-text context: {c.describe()}")
    if err is not None:
        raise TemplateError(format_escape_error(err, name))
    e.commit()


def format_escape_error(err: EscapeError, name: str) -> str:
    node = err.node
    if isinstance(node, Node):
        return f"html/template:{node.src.location(node.pos)}: {err.description}"
    if err.line:
        return f"html/template:{name}:{err.line}: {err.description}"
    return f"html/template:{name}: {err.description}"
