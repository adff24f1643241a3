"""Walks a parsed query expression, refusing any node off the whitelist and canonicalising
the rest: tables become ``"readmodel"."<table>"``, columns are qualified with the table (or
alias) they resolve to, the way Postgres would resolve them, and identifiers are quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from readmodels import sandbox_rules as rules

_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JOIN_SIDES = frozenset({"", "LEFT", "RIGHT", "FULL"})
_JOIN_KINDS = frozenset({"", "INNER", "OUTER", "CROSS"})


class QueryRefused(ValueError):
    """A query expression the sandbox will not run; ``reason`` says what was refused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Source:
    """A table in scope: the name columns refer to it by (alias or table), and the table."""

    name: str
    table: str


def check_tree(root: exp.Expr, outer: Sequence[str], *, regenerated: bool) -> exp.Expr:
    """The checked, canonical tree (mutated in place), or ``QueryRefused``.

    ``regenerated`` is set when re-checking the sandbox's own output, whose string constants
    may be ``E'...'`` escape strings.
    """
    unknown = [table for table in outer if table not in rules.TABLES]
    assert not unknown, f"outer tables must be whitelisted: {unknown}"
    holder = exp.Paren(this=root)  # lets the walk replace the root node itself
    _Checker(outer, regenerated).visit(root)
    checked: exp.Expr = holder.this
    checked.parent = None
    return checked


def _ident(node: exp.Expr | str | None) -> str:
    """An identifier's name as Postgres reads it: quoted exactly, unquoted folded to lower."""
    if isinstance(node, exp.Identifier):
        return str(node.this) if node.quoted else str(node.this).lower()
    return str(node or "").lower()


def _quoted(name: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=True)


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return _ident(node.this)
    known = rules.FUNCTIONS.get(type(node)) or rules.AGGREGATES.get(type(node))
    if known:
        return known
    try:
        text = node.sql("postgres")
    except Exception:  # refused nodes need not be writable as Postgres
        text = node.key
    match = _FUNCTION_NAME.match(text)
    return (match.group(0) if match else node.key).lower()


def _describe(node: exp.Expr) -> str:
    """How a refused node is named in the reason (``<this> is not allowed``)."""
    named = rules.REFUSED_NAMES.get(type(node))
    if named:
        return named
    if isinstance(node, exp.ObjectIdentifier):
        return f"type {node.name.lower()}"
    if isinstance(node, exp.Identifier):
        return f"name {node.name}"
    if isinstance(node, exp.Dot):
        return f"qualified name {node.sql('postgres')}"
    if isinstance(node, exp.Binary):
        return f"the {node.key} operator"
    if isinstance(node, exp.Func):
        return f"function {_function_name(node)}"
    return f"the {node.key} construct"


class _Checker:
    """One walk over one tree, keeping the stack of sub-select scopes."""

    def __init__(self, outer: Sequence[str], regenerated: bool) -> None:
        self.scopes: list[list[_Source]] = [[_Source(table, table) for table in outer]]
        self.regenerated = regenerated

    def visit(self, node: exp.Expr) -> None:
        if isinstance(node, exp.Select):
            self._select(node)
        elif isinstance(node, exp.Column):
            self._column(node)
        elif isinstance(node, exp.Star):
            self._star(node, None)
        elif isinstance(node, exp.Var):
            self._unit(node)
        elif isinstance(node, exp.Interval):
            self._interval(node)
        elif isinstance(node, exp.ByteString) and self.regenerated:
            node.replace(exp.Literal.string(str(node.this)))
        elif isinstance(node, exp.Alias):
            self._alias(node)
            self.visit(node.this)
        else:
            self._check_node(node)
            for child in list(node.iter_expressions()):
                self.visit(child)

    def _check_node(self, node: exp.Expr) -> None:
        kind = type(node)
        if isinstance(node, exp.Anonymous):
            name = _function_name(node)
            if name not in rules.ANONYMOUS_FUNCTIONS:
                raise QueryRefused(f"function {name} is not allowed")
            node.set("this", name)
        elif kind in rules.AGGREGATES:
            if len(self.scopes) == 1:
                raise QueryRefused(f"aggregate function {rules.AGGREGATES[kind]} is only"
                                   " allowed inside a sub-select")
        elif isinstance(node, exp.DataType):
            self._data_type(node)
        elif kind not in rules.OPERATOR_NODES and kind not in rules.FUNCTIONS:
            raise QueryRefused(f"{_describe(node)} is not allowed")
        if isinstance(node, exp.Distinct) and node.args.get("on"):
            raise QueryRefused("DISTINCT ON is not allowed")
        if isinstance(node, exp.Subquery) and any(
                value for key, value in node.args.items() if key != "this"):
            raise QueryRefused("clauses after a parenthesised sub-select are not allowed")
        if isinstance(node, exp.In) and (node.args.get("unnest") or node.args.get("field")
                                         or not (node.expressions or node.args.get("query"))):
            raise QueryRefused("IN needs a list of values or a sub-select")
        if isinstance(node, exp.Exists) and not isinstance(node.this, exp.Query):
            raise QueryRefused("EXISTS needs a sub-select")
        if isinstance(node, exp.Tuple) and not node.expressions:
            raise QueryRefused("empty parentheses are not allowed")
        if isinstance(node, exp.Cast) and not isinstance(node.args.get("to"), exp.DataType):
            raise QueryRefused(f"{_describe(node.args['to'])} is not allowed")

    def _data_type(self, node: exp.DataType) -> None:
        if not isinstance(node.parent, exp.Cast | exp.DataType):
            raise QueryRefused("type names are only allowed in casts")
        if node.this not in rules.CAST_TYPES:
            raise QueryRefused(f"cast to type {node.sql('postgres').lower()} is not allowed")

    def _alias(self, node: exp.Alias) -> None:
        if not (isinstance(node.parent, exp.Select) and node.arg_key == "expressions"):
            raise QueryRefused(f"{rules.REFUSED_NAMES[exp.Alias]} is not allowed")
        name = node.args.get("alias")
        if not isinstance(name, exp.Identifier) or not _SIMPLE_NAME.match(str(name.this)):
            raise QueryRefused("a column alias must be a simple name")
        node.set("alias", _quoted(_ident(name)))

    def _unit(self, node: exp.Var) -> None:
        parent = node.parent
        is_unit = ((isinstance(parent, exp.TimestampTrunc) and node.arg_key == "unit")
                   or (isinstance(parent, exp.Extract) and node.arg_key == "this"))
        if not is_unit:
            raise QueryRefused(f"keyword {node.name} is not allowed here")
        if node.name.lower() not in rules.TIME_UNITS:
            raise QueryRefused(f"time unit {node.name.lower()} is not allowed")
        node.set("this", node.name.upper())

    def _interval(self, node: exp.Interval) -> None:
        value, unit = node.this, node.args.get("unit")
        if not isinstance(value, exp.Literal):
            raise QueryRefused("INTERVAL needs a quoted constant, e.g. INTERVAL '7 days'")
        if unit is not None and (not isinstance(unit, exp.Var)
                                 or unit.name.lower() not in rules.TIME_UNITS):
            raise QueryRefused(f"interval unit {unit.sql('postgres')} is not allowed")
        text = f"{value.name} {unit.name.lower()}" if unit is not None else value.name
        node.replace(exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("interval")))

    def _star(self, node: exp.Expr, source: _Source | None) -> None:
        star = node.this if isinstance(node, exp.Column) else node
        if any(star.args.values()):
            raise QueryRefused("* modifiers (EXCEPT, REPLACE) are not allowed")
        parent = node.parent
        in_columns = isinstance(parent, exp.Select) and node.arg_key == "expressions"
        if not (in_columns or isinstance(parent, exp.Count)):
            raise QueryRefused("* is only allowed in a sub-select's column list or count(*)")
        if source is not None:
            node.set("table", _quoted(source.name))
            node.set("db", None)

    def _column(self, node: exp.Column) -> None:
        if node.args.get("catalog"):
            raise QueryRefused(f"qualified name {node.sql('postgres')} is not allowed")
        table, schema = node.args.get("table"), node.args.get("db")
        if schema is not None and _ident(schema) != rules.READMODEL_SCHEMA:
            raise QueryRefused(f"schema {_ident(schema)} is not allowed")
        source = self._lookup(_ident(table)) if table is not None else None
        if isinstance(node.this, exp.Star):
            self._star(node, source)
            return
        name = _ident(node.this)
        if source is None:
            source = self._resolve(name)
        elif name not in rules.TABLES[source.table]:
            raise QueryRefused(f"column {source.table}.{name} is not allowed")
        node.set("this", _quoted(name))
        node.set("table", _quoted(source.name))
        node.set("db", None)

    def _lookup(self, name: str) -> _Source:
        for scope in reversed(self.scopes):
            for source in scope:
                if source.name == name:
                    return source
        if name in rules.TABLES:
            raise QueryRefused(f"table {name} is not in scope here; read it in a sub-select")
        raise QueryRefused(f"table {name} is not allowed")

    def _resolve(self, column: str) -> _Source:
        """The source an unqualified column belongs to: innermost scope first, like Postgres."""
        for depth in range(len(self.scopes) - 1, -1, -1):
            matches = [s for s in self.scopes[depth] if column in rules.TABLES[s.table]]
            if len(matches) > 1 and depth > 0:
                raise QueryRefused(f"column {column} is ambiguous; qualify it with its table")
            if matches:
                return matches[0]  # the caller's scope lists its main table first
        raise QueryRefused(f"column {column} is not allowed")

    def _select(self, node: exp.Select) -> None:
        if len(self.scopes) > rules.MAX_SUBSELECT_DEPTH:
            raise QueryRefused("sub-selects are nested too deeply")
        for key, value in node.args.items():
            if value and key not in rules.SELECT_CLAUSES:
                what = rules.REFUSED_CLAUSES.get(key, f"a {key.rstrip('_').upper()} clause")
                raise QueryRefused(f"{what} is not allowed")
        from_ = node.args.get("from_")
        joins: list[exp.Join] = node.args.get("joins") or []
        sources = [self._source(from_.this)] if from_ is not None else []
        sources.extend(self._source(self._join(join)) for join in joins)
        if len(sources) > rules.MAX_FROM_TABLES:
            raise QueryRefused(f"a sub-select may read at most {rules.MAX_FROM_TABLES} tables")
        names = [source.name for source in sources]
        if len(set(names)) != len(names):
            raise QueryRefused("a table name or alias appears twice in one FROM")
        self.scopes.append(sources)
        try:
            for join in joins:
                if join.args.get("on") is not None:
                    self.visit(join.args["on"])
            for column in node.expressions:
                self.visit(column)
            for key in ("distinct", "where", "group", "having", "order", "limit", "offset"):
                clause = node.args.get(key)
                if clause is not None:
                    self.visit(clause)
        finally:
            self.scopes.pop()

    def _join(self, join: exp.Join) -> exp.Expr:
        extra = [key for key, value in join.args.items()
                 if value and key not in ("this", "on", "side", "kind")]
        if extra:
            raise QueryRefused("only JOIN ... ON is allowed (no USING, NATURAL or LATERAL)")
        side = str(join.args.get("side") or "").upper()
        kind = str(join.args.get("kind") or "").upper()
        if side not in _JOIN_SIDES or kind not in _JOIN_KINDS:
            raise QueryRefused(f"{side} {kind} JOIN is not allowed".strip())
        this: exp.Expr = join.this
        return this

    def _source(self, node: exp.Expr) -> _Source:
        """A FROM item: a whitelisted table, rewritten as ``"readmodel"."<table>"``."""
        if isinstance(node, exp.Subquery | exp.Select):
            raise QueryRefused("a sub-select in FROM is not allowed; name a table")
        if not isinstance(node, exp.Table):
            raise QueryRefused(f"{_describe(node)} is not allowed in FROM; name a table")
        if not isinstance(node.this, exp.Identifier):
            raise QueryRefused(f"{_describe(node.this)} is not allowed")
        extra = [key for key, value in node.args.items()
                 if value and key not in ("this", "db", "alias")]
        if extra:
            raise QueryRefused(f"{extra[0].rstrip('_').upper()} is not allowed in FROM")
        name, schema = _ident(node.this), _ident(node.args.get("db"))
        if schema and schema != rules.READMODEL_SCHEMA:
            raise QueryRefused(f"schema {schema} is not allowed")
        if name not in rules.TABLES:
            raise QueryRefused(f"table {name} is not allowed")
        exposed = name
        alias = node.args.get("alias")
        if alias is not None:
            if alias.args.get("columns"):
                raise QueryRefused("column aliases in FROM are not allowed")
            if not _SIMPLE_NAME.match(str(alias.this.this if alias.this else "")):
                raise QueryRefused("a table alias must be a simple name")
            exposed = _ident(alias.this)
            alias.set("this", _quoted(exposed))
        node.set("this", _quoted(name))
        node.set("db", _quoted(rules.READMODEL_SCHEMA))
        return _Source(exposed, name)
