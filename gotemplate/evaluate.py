"""Expression evaluation for the template interpreter (text/template/exec.go).

Pipelines, commands, fields, variables and function calls are evaluated here with Go's
rules: missing map keys are invalid values, nil interfaces dig down, arguments are
checked and converted against the callee's Go signature, and only dict keys and
explicitly exposed struct members are reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .gostrings import go_quote
from .gotime import TIME_METHODS
from .nodes import (
    BoolNode,
    ChainNode,
    CommandNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    Tree,
    VariableNode,
)
from .values import (
    MISSING,
    TYPED_STRINGS,
    LimitExceeded,
    Limits,
    Signature,
    TemplateError,
    exposed_members,
    go_type_name,
    is_method,
    is_struct,
    is_true,
    signature_of,
)


@dataclass(frozen=True, slots=True)
class FuncEntry:
    """A callable as the engine sees it: its name, Go signature and whether it is builtin."""

    name: str
    fn: Callable[..., Any]
    sig: Signature
    builtin: bool = False
    escaper: bool = False


class _NoFinal:
    """Marker: the command has no value piped into it."""


NOFINAL: Any = _NoFinal()
GO_TYPE_NAMES = {
    "any": "interface {}", "value": "reflect.Value", "string": "string", "int": "int",
    "float64": "float64", "bool": "bool", "map": "map[string]interface {}",
    "list": "[]interface {}", "time": "time.Time",
}
_NILABLE = ("any", "map", "list")


PARAM_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {}


def register_param_type(name: str, go_name: str, accepts: Callable[[Any], bool]) -> None:
    """Declare a parameter type usable in signatures (e.g. listmonk's *CampaignMessage)."""
    PARAM_TYPES[name] = (go_name, accepts)
    GO_TYPE_NAMES[name] = go_name


def _accepts(value: Any, typ: str) -> bool:
    custom = PARAM_TYPES.get(typ)
    if custom is not None:
        return custom[1](value)
    if typ == "string":
        return isinstance(value, str) and type(value) not in TYPED_STRINGS
    if typ == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "float64":
        return isinstance(value, float)
    if typ == "bool":
        return isinstance(value, bool)
    if typ == "map":
        return isinstance(value, dict) or value is None
    if typ == "list":
        return isinstance(value, list | tuple) or value is None
    if typ == "time":
        return isinstance(value, datetime)
    return True


class Evaluator:
    """Evaluation state of one render: variables, counters and the node being run."""

    def __init__(self, trees: Mapping[str, Tree], funcs: Mapping[str, FuncEntry],
                 limits: Limits, text_mode: bool) -> None:
        self.trees = trees
        self.funcs = funcs
        self.limits = limits
        self.text_mode = text_mode
        self.out: list[str] = []
        self.out_len = 0
        self.steps = 0
        self.vars: list[list[Any]] = []
        self.depth = 0
        self.tmpl_name = ""
        self.node: Node | None = None

    # -- bookkeeping ----------------------------------------------------------------------
    def errorf(self, message: str, cls: type[TemplateError] = TemplateError) -> TemplateError:
        name = self.tmpl_name
        if self.node is None:
            return cls(f"template: {name}: {message}")
        loc = self.node.src.location(self.node.pos)
        return cls(f"template: {loc}: executing {go_quote(name)} at <{self.node}>: {message}")

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise self.errorf(f"execution step limit exceeded ({self.limits.max_steps})",
                              LimitExceeded)

    def var_value(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.errorf(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.errorf(f"undefined variable: {name}")

    # -- evaluation -----------------------------------------------------------------------
    def eval_pipeline(self, dot: Any, pipe: PipeNode | None) -> Any:
        if pipe is None:
            return MISSING
        self.node = pipe
        value: Any = NOFINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:
                value = MISSING
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append([var.ident[0], value])
        return value

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not NOFINAL:
            raise self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            self.node = first
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            raise self.errorf("nil is not a command")
        if isinstance(first, NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, StringNode):
            return first.text
        raise self.errorf(f"can't evaluate command {go_quote(str(first))}")

    def ideal_constant(self, node: NumberNode) -> Any:
        self.node = node
        text = node.text
        hex_int = text[:2].lower() == "0x" and "p" not in text.lower()
        if node.is_float and not hex_int and not text.startswith("'") and any(
                c in text for c in ".eEpP"):
            return node.float_value
        if node.is_int:
            return node.int_value
        raise self.errorf(f"{text} overflows int")

    def eval_chain(self, dot: Any, chain: ChainNode, args: list[Node] | None, final: Any) -> Any:
        self.node = chain
        if isinstance(chain.node, NilNode):
            raise self.errorf(f"indirection through explicit nil in {chain}")
        assert chain.node is not None
        receiver = self.eval_arg(dot, "value", chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: VariableNode, args: list[Node] | None,
                      final: Any) -> Any:
        self.node = var
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args or [var], final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(self, dot: Any, receiver: Any, node: Node, idents: list[str],
                         args: list[Node] | None, final: Any) -> Any:
        for name in idents[:-1]:
            receiver = self.eval_field(dot, name, node, None, NOFINAL, receiver)
        return self.eval_field(dot, idents[-1], node, args, final, receiver)

    def eval_field(self, dot: Any, name: str, node: Node, args: list[Node] | None,
                   final: Any, receiver: Any) -> Any:
        if receiver is MISSING:
            return MISSING
        if receiver is None:
            raise self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        has_args = (args is not None and len(args) > 1) or final is not NOFINAL
        if isinstance(receiver, dict):
            if has_args:
                raise self.errorf(f"{name} is not a method but has arguments")
            return receiver.get(name, MISSING)
        if isinstance(receiver, datetime) and name in TIME_METHODS:
            sig, fn = TIME_METHODS[name]
            entry = FuncEntry(name, lambda *a: fn(receiver, *a), sig)
            return self.eval_call(dot, entry, node, name, args, final)
        if is_struct(receiver) and name in exposed_members(type(receiver)):
            if is_method(receiver, name):
                method = getattr(receiver, name)
                entry = FuncEntry(name, method, signature_of(method))
                return self.eval_call(dot, entry, node, name, args, final)
            if has_args:
                raise self.errorf(f"{name} has arguments but cannot be invoked as function")
            return getattr(receiver, name)
        raise self.errorf(f"can't evaluate field {name} in type {go_type_name(receiver)}")

    def eval_function(self, dot: Any, node: IdentifierNode, cmd: Node,
                      args: list[Node] | None, final: Any) -> Any:
        self.node = node
        entry = self.funcs.get(node.ident)
        if entry is None:
            raise self.errorf(f"{go_quote(node.ident)} is not a defined function")
        return self.eval_call(dot, entry, cmd, node.ident, args, final)

    def eval_call(self, dot: Any, entry: FuncEntry, node: Node, name: str,
                  args: list[Node] | None, final: Any) -> Any:
        arg_nodes = args[1:] if args is not None else []
        if entry.escaper and not arg_nodes and final is not NOFINAL:
            # Fast path for the escapers html/template appends to output pipelines.
            argv: list[Any] = [None if final is MISSING else final]
        else:
            if entry.builtin and name in ("and", "or"):
                return self.and_or(dot, entry, name, arg_nodes, final)
            argv = self.call_args(dot, entry.sig, name, arg_nodes, final)
        self.step()
        try:
            result = entry.fn(*argv)
        except (TemplateError, RecursionError):
            raise
        except Exception as exc:
            self.node = node
            raise self.errorf(f"error calling {name}: {exc}") from None
        return self.check_size(result, node)

    def call_args(self, dot: Any, sig: Signature, name: str, arg_nodes: list[Node],
                  final: Any) -> list[Any]:
        """Evaluate and type-check the arguments of a call against its Go signature."""
        num_in = len(arg_nodes) + (final is not NOFINAL)
        if sig.variadic is not None:
            num_fixed = len(sig.params)
            if num_in < num_fixed:
                raise self.errorf(f"wrong number of args for {name}: want at least "
                                  f"{num_fixed} got {len(arg_nodes)}")
        else:
            num_fixed = len(arg_nodes)
            if num_in != len(sig.params):
                raise self.errorf(f"wrong number of args for {name}: want "
                                  f"{len(sig.params)} got {num_in}")
        argv: list[Any] = []
        for i, arg in enumerate(arg_nodes):
            typ = sig.params[i] if i < num_fixed else (sig.variadic or "any")
            argv.append(self.eval_arg(dot, typ, arg))
        if final is not NOFINAL:
            if sig.variadic is not None and num_in - 1 >= num_fixed:
                typ = sig.variadic
            else:
                typ = sig.params[num_in - 1]
            argv.append(self.validate(final, typ))
        return argv

    def and_or(self, dot: Any, entry: FuncEntry, name: str, arg_nodes: list[Node],
               final: Any) -> Any:
        """The short-circuiting builtins: first decisive argument, else the last one."""
        if not arg_nodes and final is NOFINAL:
            raise self.errorf(f"wrong number of args for {name}: want at least 1 got 0")
        result: Any = MISSING
        for arg in arg_nodes:
            result = self.eval_arg(dot, "value", arg)
            if is_true(result) == (name == "or"):
                return result
        return final if final is not NOFINAL else result

    def check_size(self, result: Any, node: Node) -> Any:
        if isinstance(result, str):
            if len(result) > self.limits.max_output:
                self.node = node
                raise self.errorf("function result exceeds the output size limit", LimitExceeded)
        elif isinstance(result, list | tuple | dict) and len(result) > self.limits.max_items:
            self.node = node
            raise self.errorf("function result has too many items", LimitExceeded)
        return result

    def validate(self, value: Any, typ: str) -> Any:
        if typ == "value":
            return value
        if value is MISSING:
            if typ in _NILABLE:
                return None
            raise self.errorf(f"invalid value; expected {GO_TYPE_NAMES.get(typ, typ)}")
        if not _accepts(value, typ):
            raise self.errorf(f"wrong type for value; expected {GO_TYPE_NAMES.get(typ, typ)}; "
                              f"got {go_type_name(value)}")
        return value

    def eval_arg(self, dot: Any, typ: str, node: Node) -> Any:
        self.node = node
        if isinstance(node, DotNode):
            return self.validate(dot, typ)
        if isinstance(node, NilNode):
            if typ == "value":
                return MISSING
            if typ in _NILABLE:
                return None
            raise self.errorf(f"cannot assign nil to {GO_TYPE_NAMES.get(typ, typ)}")
        if isinstance(node, FieldNode):
            return self.validate(
                self.eval_field_chain(dot, dot, node, node.ident, [node], NOFINAL), typ)
        if isinstance(node, VariableNode):
            return self.validate(self.eval_variable(dot, node, None, NOFINAL), typ)
        if isinstance(node, PipeNode):
            return self.validate(self.eval_pipeline(dot, node), typ)
        if isinstance(node, IdentifierNode):
            return self.validate(self.eval_function(dot, node, node, None, NOFINAL), typ)
        if isinstance(node, ChainNode):
            return self.validate(self.eval_chain(dot, node, None, NOFINAL), typ)
        return self.literal_arg(typ, node)

    def literal_arg(self, typ: str, node: Node) -> Any:
        if typ in ("any", "value"):
            if isinstance(node, BoolNode):
                return node.value
            if isinstance(node, NumberNode):
                return self.ideal_constant(node)
            if isinstance(node, StringNode):
                return node.text
        elif typ == "bool":
            if isinstance(node, BoolNode):
                return node.value
            raise self.errorf(f"expected bool; found {node}")
        elif typ == "string":
            if isinstance(node, StringNode):
                return node.text
            raise self.errorf(f"expected string; found {node}")
        elif typ == "int":
            if isinstance(node, NumberNode) and node.is_int:
                return node.int_value
            raise self.errorf(f"expected integer; found {node}")
        elif typ == "float64":
            if isinstance(node, NumberNode) and node.is_float:
                return node.float_value
            raise self.errorf(f"expected float; found {node}")
        raise self.errorf(f"can't handle {node} for arg of type {GO_TYPE_NAMES.get(typ, typ)}")
