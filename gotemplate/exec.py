"""The template interpreter, following text/template/exec.go.

It walks a parsed (and, in HTML mode, escaped) tree over caller data. Go's rules are kept:
missing map keys yield an invalid value (printed ``<no value>`` in text mode), nil
interfaces dig down, functions are type-checked against their Go signatures, ``and``/``or``
short-circuit, ranges over maps visit sorted keys, templates get a fresh variable scope.
Sandbox: data is reached only through dict keys and explicitly exposed struct members, and
every render is bounded in steps, output size and template depth.
"""

from __future__ import annotations

from typing import Any

from .evaluate import Evaluator
from .gofmt import fmt_value, sort_key
from .gostrings import go_quote
from .nodes import (
    ActionNode,
    BranchNode,
    BreakNode,
    ContinueNode,
    ListNode,
    Node,
    RangeNode,
    TemplateNode,
    TextNode,
    WithNode,
)
from .values import (
    MISSING,
    LimitExceeded,
    TemplateError,
    is_struct,
    is_true,
)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class Executor(Evaluator):
    """One render: walks the tree, writing output."""

    def run(self, name: str, data: Any) -> str:
        tree = self.trees.get(name)
        if tree is None:
            raise TemplateError(f"template: no template {go_quote(name)} associated with template")
        self.tmpl_name = name
        dot = MISSING if data is None else data
        self.vars = [["$", dot]]
        try:
            self.walk(dot, tree.root)
        except RecursionError:
            raise LimitExceeded(f"template: {name}: template nesting too deep") from None
        return "".join(self.out)

    def write(self, text: str) -> None:
        self.out_len += len(text)
        if self.out_len > self.limits.max_output:
            raise self.errorf(f"output size limit exceeded ({self.limits.max_output})",
                              LimitExceeded)
        self.out.append(text)

    # -- walking --------------------------------------------------------------------------
    def walk(self, dot: Any, node: Node) -> None:
        self.node = node
        self.step()
        if isinstance(node, TextNode):
            self.write(node.text)
        elif isinstance(node, ActionNode):
            assert node.pipe is not None
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, value)
        elif isinstance(node, ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, BranchNode):
            self.walk_if_with(dot, node)
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue
        else:
            raise self.errorf(f"unknown node: {node}")

    def print_value(self, node: Node, value: Any) -> None:
        self.node = node
        if isinstance(value, str):
            self.write(value)
        elif value is MISSING:
            self.write("<no value>" if self.text_mode else "")
        elif callable(value) and not is_struct(value):
            raise self.errorf(f"can't print {node} of type func")
        else:
            try:
                self.write(fmt_value(value))
            except ValueError as exc:
                raise self.errorf(str(exc)) from None

    def walk_if_with(self, dot: Any, node: BranchNode) -> None:
        mark = len(self.vars)
        try:
            assert node.pipe is not None and node.body is not None
            value = self.eval_pipeline(dot, node.pipe)
            if is_true(value):
                self.walk(value if isinstance(node, WithNode) else dot, node.body)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: Any, node: RangeNode) -> None:
        self.node = node
        outer = len(self.vars)
        assert node.pipe is not None and node.body is not None
        pipe, body = node.pipe, node.body
        try:
            value = self.eval_pipeline(dot, pipe)
            mark = len(self.vars)
            decl = pipe.decl

            def one(index: Any, elem: Any) -> None:
                self.step()
                if decl:
                    if pipe.is_assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                    else:
                        self.vars[mark - 1][1] = elem
                if len(decl) > 1:
                    if pipe.is_assign:
                        self.set_var(decl[1].ident[0], elem)
                    else:
                        self.vars[mark - 2][1] = index
                try:
                    self.walk(elem, body)
                except _Continue:
                    pass
                finally:
                    del self.vars[mark:]

            try:
                if isinstance(value, list | tuple):
                    if value:
                        for i, elem in enumerate(list(value)):
                            one(i, elem)
                        return
                elif isinstance(value, dict):
                    if value:
                        for key, elem in sorted(value.items(), key=lambda kv: sort_key(kv[0])):
                            one(key, elem)
                        return
                elif isinstance(value, int) and not isinstance(value, bool):
                    if len(decl) > 1:
                        raise self.errorf(
                            f"can't use {value} to iterate over more than one variable")
                    if value > 0:
                        for i in range(value):
                            one(i, i)
                        return
                elif value is not MISSING and value is not None:
                    self.node = node
                    raise self.errorf(f"range can't iterate over {fmt_value(value)}")
            except _Break:
                return
            if node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[outer:]

    def walk_template(self, dot: Any, node: TemplateNode) -> None:
        self.node = node
        tree = self.trees.get(node.name)
        if tree is None:
            raise self.errorf(f"template {go_quote(node.name)} not defined")
        if self.depth >= self.limits.max_depth:
            raise self.errorf(f"exceeded maximum template depth ({self.limits.max_depth})",
                              LimitExceeded)
        value = self.eval_pipeline(dot, node.pipe)
        saved = (self.vars, self.tmpl_name, self.depth)
        self.vars, self.tmpl_name, self.depth = [["$", value]], tree.name, self.depth + 1
        try:
            self.walk(value, tree.root)
        finally:
            self.vars, self.tmpl_name, self.depth = saved


