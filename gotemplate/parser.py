"""Parser for Go's template language, following text/template/parse/parse.go.

``parse(name, text, has_function)`` returns every template the text defines (the
top-level one plus each ``define``/``block``), or raises TemplateError worded like Go:
``template: <name>:<line>: <problem>``.
"""

from __future__ import annotations

from collections.abc import Callable

from . import lexer as lx
from .gostrings import go_quote
from .lexer import Token
from .literals import LiteralError, parse_char_constant, parse_number, unquote
from .nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    Source,
    StringNode,
    TemplateNode,
    TextNode,
    Tree,
    VariableNode,
    WithNode,
    is_empty_tree,
)
from .values import TemplateError

MAX_NESTING = 100
_OPERAND_STARTS = {lx.BOOL, lx.CHAR_CONSTANT, lx.COMPLEX, lx.DOT, lx.FIELD, lx.IDENTIFIER,
                   lx.NUMBER, lx.NIL, lx.RAW_STRING, lx.STRING, lx.VARIABLE, lx.LEFT_PAREN}


class Parser:
    """Recursive-descent parser over the token list of one template text."""

    def __init__(self, name: str, text: str, has_function: Callable[[str], bool]) -> None:
        self.src = Source(name, text)
        self.has_function = has_function
        self.tokens = lx.lex(text, not has_function("break"), not has_function("continue"))
        self.i = 0
        self.line = 1
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.depth = 0
        self.action_line = 0
        self.trees: dict[str, Tree] = {}

    # -- token stream ---------------------------------------------------------------------
    def next(self) -> Token:
        tok = self.tokens[min(self.i, len(self.tokens) - 1)]
        self.i += 1
        self.line = tok.line
        return tok

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> Token:
        tok = self.tokens[min(self.i, len(self.tokens) - 1)]
        self.line = tok.line
        return tok

    def next_non_space(self) -> Token:
        tok = self.next()
        while tok.typ == lx.SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> Token:
        tok = self.next_non_space()
        self.backup()
        return tok

    # -- errors ---------------------------------------------------------------------------
    def errorf(self, message: str) -> TemplateError:
        return TemplateError(f"template: {self.src.parse_name}:{self.line}: {message}")

    def unexpected(self, tok: Token, context: str) -> TemplateError:
        if tok.typ == lx.ERROR:
            extra = ""
            if self.action_line and self.action_line != tok.line:
                extra = f" in action started at {self.src.parse_name}:{self.action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            return self.errorf(tok.val + extra)
        return self.errorf(f"unexpected {tok.describe()} in {context}")

    def expect(self, typ: int, context: str) -> Token:
        tok = self.next_non_space()
        if tok.typ != typ:
            raise self.unexpected(tok, context)
        return tok

    # -- top level ------------------------------------------------------------------------
    def parse(self) -> dict[str, Tree]:
        root = ListNode(self.peek().pos, self.src)
        while self.peek().typ != lx.EOF:
            if self.peek().typ == lx.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().typ == lx.DEFINE:
                    self.parse_definition()
                    continue
                self._rewind_to(delim)
            node = self.text_or_action()
            if isinstance(node, EndNode | ElseNode):
                raise self.errorf(f"unexpected {node}")
            root.nodes.append(node)
        self.add(Tree(self.src.parse_name, root, self.src))
        return self.trees

    def _rewind_to(self, tok: Token) -> None:
        self.i = min(self.i, len(self.tokens) - 1)
        while self.tokens[self.i] is not tok:
            self.i -= 1

    def add(self, tree: Tree) -> None:
        existing = self.trees.get(tree.name)
        if existing is None or is_empty_tree(existing.root):
            self.trees[tree.name] = tree
        elif not is_empty_tree(tree.root):
            raise self.errorf(f"template: multiple definition of template {go_quote(tree.name)}")

    def parse_definition(self) -> None:
        context = "define clause"
        tok = self.next_non_space()
        if tok.typ not in (lx.STRING, lx.RAW_STRING):
            raise self.unexpected(tok, context)
        name = self.unquote(tok.val)
        self.expect(lx.RIGHT_DELIM, context)
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if not isinstance(end, EndNode):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(Tree(name, body, self.src))

    def item_list(self) -> tuple[ListNode, Node]:
        body = ListNode(self.peek_non_space().pos, self.src)
        while self.peek_non_space().typ != lx.EOF:
            node = self.text_or_action()
            if isinstance(node, EndNode | ElseNode):
                return body, node
            body.nodes.append(node)
        raise self.errorf("unexpected EOF")

    def text_or_action(self) -> Node:
        tok = self.next_non_space()
        if tok.typ == lx.TEXT:
            return TextNode(tok.pos, self.src, tok.val)
        if tok.typ == lx.LEFT_DELIM:
            saved, self.action_line = self.action_line, tok.line
            try:
                return self.action()
            finally:
                self.action_line = saved
        raise self.unexpected(tok, "input")

    def action(self) -> Node:
        tok = self.next_non_space()
        keyword = tok.typ
        if keyword == lx.BLOCK:
            return self.block_control()
        if keyword in (lx.BREAK, lx.CONTINUE):
            return self.break_control(tok)
        if keyword == lx.ELSE:
            return self.else_control()
        if keyword == lx.END:
            return EndNode(self.expect(lx.RIGHT_DELIM, "end").pos, self.src)
        if keyword in (lx.IF, lx.RANGE, lx.WITH):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.errorf("control structures nested too deeply")
            try:
                return self.branch_control(keyword)
            finally:
                self.depth -= 1
        if keyword == lx.TEMPLATE:
            return self.template_control()
        self.backup()
        start = self.peek()
        return ActionNode(start.pos, self.src, start.line,
                          self.pipeline("command", lx.RIGHT_DELIM))

    # -- control structures ---------------------------------------------------------------
    def break_control(self, tok: Token) -> Node:
        word = "break" if tok.typ == lx.BREAK else "continue"
        after = self.next_non_space()
        if after.typ != lx.RIGHT_DELIM:
            raise self.unexpected(after, "{{" + word + "}}")
        if self.range_depth == 0:
            raise self.errorf("{{" + word + "}} outside {{range}}")
        cls = BreakNode if tok.typ == lx.BREAK else ContinueNode
        return cls(tok.pos, self.src, tok.line)

    def else_control(self) -> Node:
        peek = self.peek_non_space()
        if peek.typ in (lx.IF, lx.WITH):
            return ElseNode(peek.pos, self.src, peek.line)
        tok = self.expect(lx.RIGHT_DELIM, "else")
        return ElseNode(tok.pos, self.src, tok.line)

    def branch_control(self, keyword: int) -> BranchNode:
        context = {lx.IF: "if", lx.RANGE: "range", lx.WITH: "with"}[keyword]
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, lx.RIGHT_DELIM)
            if keyword == lx.RANGE:
                self.range_depth += 1
            body, nxt = self.item_list()
            if keyword == lx.RANGE:
                self.range_depth -= 1
            else_list: ListNode | None = None
            if isinstance(nxt, ElseNode):
                follow = self.peek().typ
                if (keyword, follow) in ((lx.IF, lx.IF), (lx.WITH, lx.WITH)):
                    self.next()
                    else_list = ListNode(nxt.pos, self.src, [self.branch_control(keyword)])
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, EndNode):
                        raise self.errorf(f"expected end; found {nxt}")
        finally:
            del self.vars[mark:]
        cls = {lx.IF: IfNode, lx.RANGE: RangeNode, lx.WITH: WithNode}[keyword]
        return cls(pipe.pos, self.src, pipe.line, pipe, body, else_list, context)

    def block_control(self) -> Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = self.pipeline(context, lx.RIGHT_DELIM)
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if not isinstance(end, EndNode):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(Tree(name, body, self.src))
        return TemplateNode(tok.pos, self.src, tok.line, name, pipe)

    def template_control(self) -> Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = None
        if self.next_non_space().typ != lx.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, lx.RIGHT_DELIM)
        return TemplateNode(tok.pos, self.src, tok.line, name, pipe)

    def template_name(self, tok: Token, context: str) -> str:
        if tok.typ not in (lx.STRING, lx.RAW_STRING):
            raise self.unexpected(tok, context)
        return self.unquote(tok.val)

    # -- pipelines ------------------------------------------------------------------------
    def pipeline(self, context: str, end: int) -> PipeNode:
        start = self.peek_non_space()
        pipe = PipeNode(start.pos, self.src, start.line)
        self.declarations(pipe, context)
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.typ in _OPERAND_STARTS:
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def declarations(self, pipe: PipeNode, context: str) -> None:
        while True:
            var = self.peek_non_space()
            if var.typ != lx.VARIABLE:
                return
            var_index = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt.typ in (lx.ASSIGN, lx.DECLARE):
                pipe.is_assign = nxt.typ == lx.ASSIGN
                self.next_non_space()
                pipe.decl.append(self.variable(var))
                self.vars.append(var.val)
                return
            if nxt.typ == lx.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(self.variable(var))
                self.vars.append(var.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (lx.VARIABLE, lx.RIGHT_DELIM,
                                                     lx.RIGHT_PAREN):
                        continue
                    raise self.errorf("range can only initialize variables")
                raise self.errorf(f"too many declarations in {context}")
            self.i = var_index
            return

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.errorf(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], BoolNode | DotNode | NilNode | NumberNode | StringNode):
                raise self.errorf(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos, self.src)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == lx.SPACE:
                continue
            if tok.typ in (lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                self.backup()
            elif tok.typ != lx.PIPE:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None or self.peek().typ != lx.FIELD:
            return node
        first = self.peek()
        fields: list[str] = []
        while self.peek().typ == lx.FIELD:
            fields.extend(self.next().val[1:].split("."))
        if isinstance(node, FieldNode):
            return FieldNode(first.pos, self.src, [*node.ident, *fields])
        if isinstance(node, VariableNode):
            return VariableNode(first.pos, self.src, [*node.ident, *fields])
        if isinstance(node, BoolNode | StringNode | NumberNode | NilNode | DotNode):
            raise self.errorf(f"unexpected . after term {go_quote(str(node))}")
        return ChainNode(first.pos, self.src, node, fields)

    def term(self) -> Node | None:
        tok = self.next_non_space()
        typ = tok.typ
        if typ == lx.IDENTIFIER:
            if not self.has_function(tok.val):
                raise self.errorf(f"function {go_quote(tok.val)} not defined")
            return IdentifierNode(tok.pos, self.src, tok.val)
        if typ == lx.DOT:
            return DotNode(tok.pos, self.src)
        if typ == lx.NIL:
            return NilNode(tok.pos, self.src)
        if typ == lx.VARIABLE:
            var = self.variable(tok)
            if var.ident[0] not in self.vars:
                raise self.errorf(f"undefined variable {go_quote(var.ident[0])}")
            return var
        if typ == lx.FIELD:
            return FieldNode(tok.pos, self.src, tok.val[1:].split("."))
        if typ == lx.BOOL:
            return BoolNode(tok.pos, self.src, tok.val == "true")
        if typ in (lx.CHAR_CONSTANT, lx.COMPLEX, lx.NUMBER):
            return self.number(tok)
        if typ == lx.LEFT_PAREN:
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.errorf("expression nested too deeply")
            try:
                return self.pipeline("parenthesized pipeline", lx.RIGHT_PAREN)
            finally:
                self.depth -= 1
        if typ in (lx.STRING, lx.RAW_STRING):
            return StringNode(tok.pos, self.src, tok.val, self.unquote(tok.val))
        self.backup()
        return None

    def number(self, tok: Token) -> NumberNode:
        try:
            if tok.typ == lx.CHAR_CONSTANT:
                num = parse_char_constant(tok.val)
            else:
                num = parse_number(tok.val)
        except (LiteralError, IndexError) as exc:
            raise self.errorf(str(exc) or "invalid syntax") from None
        return NumberNode(tok.pos, self.src, tok.val, num.is_int, num.is_float,
                          num.int_value, num.float_value)

    def variable(self, tok: Token) -> VariableNode:
        return VariableNode(tok.pos, self.src, tok.val.split("."))

    def unquote(self, quoted: str) -> str:
        try:
            return unquote(quoted)
        except LiteralError as exc:
            raise self.errorf(str(exc)) from None


def parse(name: str, text: str, has_function: Callable[[str], bool]) -> dict[str, Tree]:
    """Parse text as the template ``name``; returns all the templates it defines."""
    return Parser(name, text, has_function).parse()
