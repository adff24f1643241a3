"""The subscriber query sandbox: accept listmonk's ``query=`` SQL expressions, safely.

listmonk splices a client's SQL expression into ``WHERE ... AND (<query>)``. postlog parses it
with sqlglot instead, allows it only if every node is on the whitelist in ``sandbox_rules`` and
runs SQL *regenerated from the checked tree*, never the client's text, so the result is always
one well-formed expression that cannot close the surrounding parenthesis. The caller still runs
it in a READ ONLY transaction with a ``statement_timeout`` as ``postlog_reader``
(docs/query-sandbox.md).

The regenerated SQL names tables as ``readmodel.<table>`` in sub-selects and qualifies every
column (``"subscribers"."email"``), so the caller's query must read ``readmodel.subscribers``
without an alias. It contains no ``%`` (string constants holding ``%`` or a backslash are written
as ``E'...'`` with ``\\x25``), so it can be embedded in a psycopg query that has parameters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, ClassVar

import psycopg
import structlog
from psycopg import errors as pg_errors
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.generators.postgres import PostgresGenerator
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokenizer_core import Token, TokenType

from readmodels.sandbox_check import QueryRefused, check_tree
from readmodels.sandbox_rules import MAX_QUERY_LENGTH, SUBSCRIBERS_OUTER

__all__ = ["QueryRefused", "render_where", "sandboxed", "validate_query"]

log = structlog.get_logger(__name__)


def _json_arrow(kind: type[exp.Expr]) -> Any:
    # Keep the right operand of -> / ->> as written: sqlglot's JSON-path conversion is lossy
    # (it drops an empty key '' and re-quotes keys itself).
    return lambda self, this, path: self.expression(kind(this=this, expression=path))


class _SandboxParser(PostgresParser):
    """Postgres parsing without the quirks that would change an expression's meaning."""

    # ``f(x -> 'a')`` is a JSON operator in Postgres, not a lambda.
    LAMBDAS: ClassVar[dict[Any, Any]] = {}
    JSON_OPERATORS: ClassVar[dict[Any, Any]] = {
        **PostgresParser.JSON_OPERATORS,
        TokenType.ARROW: _json_arrow(exp.JSONExtract),
        TokenType.DARROW: _json_arrow(exp.JSONExtractScalar),
    }

    def _parse_interval(self, require_interval: bool = True,
                        parse_function_unit: bool = True) -> Any:
        # ``INTERVAL '1 day ago'`` would be rewritten as ``INTERVAL '1 DAY'``: read Postgres'
        # ``INTERVAL '<text>'`` as the cast it is, keeping the text whole.
        current, following = self._curr, self._next
        if (current is not None and current.token_type == TokenType.INTERVAL
                and following is not None and following.token_type == TokenType.STRING):
            after = self._tokens[self._index + 2] if self._index + 2 < len(self._tokens) else None
            if after is None or after.text.upper() not in self.dialect.VALID_INTERVAL_UNITS:
                self._advance()
                literal = self._parse_primary()
                return exp.Cast(this=literal, to=exp.DataType.build("interval"))
        return super()._parse_interval(require_interval, parse_function_unit)


class _SandboxGenerator(PostgresGenerator):
    """Postgres SQL whose text means the same whatever ``standard_conforming_strings`` is and
    that holds no ``%`` (psycopg's placeholder character)."""

    def literal_sql(self, expression: exp.Literal) -> str:
        text = str(expression.this or "")
        if expression.is_string and ("\\" in text or "%" in text):
            body = text.replace("\\", "\\\\").replace("'", "''").replace("%", "\\x25")
            return f"E'{body}'"
        return super().literal_sql(expression)

    def mod_sql(self, expression: exp.Mod) -> str:
        return self.func("MOD", expression.this, expression.expression)


class SandboxPostgres(Postgres):
    """The Postgres dialect the sandbox parses and writes."""

    Parser = _SandboxParser
    Generator = _SandboxGenerator


_DIALECT = SandboxPostgres()

_STATEMENTS: tuple[type[exp.Expr], ...] = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
    exp.TruncateTable, exp.Grant, exp.Copy, exp.Set, exp.Transaction, exp.Commit,
    exp.Rollback, exp.Command, exp.Select, exp.SetOperation,
)


def _tokens(text: str) -> list[Token]:
    if "\x00" in text:
        raise QueryRefused("NUL characters are not allowed")
    try:
        tokens = _DIALECT.tokenize(text)
    except Exception as error:  # sqlglot raises several types on malformed input
        raise QueryRefused("could not parse query") from error
    if not tokens:
        if "--" in text or "/*" in text:
            raise QueryRefused("comments are not allowed")
        raise QueryRefused("query is empty")
    for token in tokens:
        if token.comments:
            raise QueryRefused("comments are not allowed")
        if token.token_type == TokenType.SEMICOLON:
            raise QueryRefused("only one expression is allowed (no ';')")
    return tokens


def _parse(text: str) -> exp.Expr:
    tokens = _tokens(text)
    try:
        statements = [s for s in _DIALECT.parser().parse(tokens, text) if s is not None]
    except RecursionError as error:
        raise QueryRefused("query is nested too deeply") from error
    except Exception as error:  # ParseError, TokenError and the odd ValueError
        raise QueryRefused("could not parse query") from error
    if len(statements) != 1:
        raise QueryRefused("only one expression is allowed")
    root = statements[0]
    if isinstance(root, _STATEMENTS):
        kind = root.name.upper() if isinstance(root, exp.Command) else root.key.upper()
        if isinstance(root, exp.SetOperation):
            kind = "SELECT"
        elif isinstance(root, exp.TruncateTable):
            kind = "TRUNCATE"
        raise QueryRefused(f"{kind} statements are not allowed; send one condition")
    return root


def _generate(tree: exp.Expr) -> str:
    try:
        return _DIALECT.generate(tree, identify=True, comments=False)
    except RecursionError as error:
        raise QueryRefused("query is nested too deeply") from error


def _checked(text: str, outer: Sequence[str], *, regenerated: bool) -> exp.Expr:
    try:
        return check_tree(_parse(text), outer, regenerated=regenerated)
    except RecursionError as error:
        raise QueryRefused("query is nested too deeply") from error


def _round_trip(tree: exp.Expr, outer: Sequence[str], source: str) -> str:
    """The SQL to run for a checked tree, after proving it parses back into the same tree."""
    rendered = _generate(tree)
    again = _generate(_checked(rendered, outer, regenerated=True))
    if again != rendered or "%" in rendered:
        log.warning("query_sandbox_unstable_rendering", query=source, rendered=rendered,
                    again=again)
        raise QueryRefused("query could not be rewritten safely")
    return rendered


def validate_query(expression: str, *, outer: Sequence[str] = SUBSCRIBERS_OUTER) -> exp.Expr:
    """The client's expression as a checked, canonical sqlglot tree, or ``QueryRefused``.

    ``outer`` names the tables the caller's query has in scope around the expression (see
    ``sandbox_rules.SUBSCRIBERS_OUTER`` and ``LISTMONK_OUTER``).
    """
    if len(expression) > MAX_QUERY_LENGTH:
        raise QueryRefused(f"query is too long (at most {MAX_QUERY_LENGTH} characters)")
    tree = _checked(expression, outer, regenerated=False)
    _round_trip(tree, outer, expression)
    return tree


def render_where(expression: str | exp.Expr, *,
                 outer: Sequence[str] = SUBSCRIBERS_OUTER) -> str:
    """The expression, checked, as Postgres SQL to put inside ``WHERE ... AND (<here>)``.

    A tree (from ``validate_query``) is checked again: it is cheap, and a tree built elsewhere
    cannot slip through.
    """
    if isinstance(expression, str):
        tree = validate_query(expression, outer=outer)
        source = expression
    else:
        try:
            tree = check_tree(expression.copy(), outer, regenerated=True)
        except RecursionError as error:
            raise QueryRefused("query is nested too deeply") from error
        source = repr(expression)
    return _round_trip(tree, outer, source)


# SQLSTATE classes of errors a checked expression can still cause at run time: bad values and
# casts (22), unknown operators or functions for the types used (42), a scalar sub-select
# returning several rows (21), limits such as a too-complex expression (54).
_CLIENT_ERROR_CLASSES = frozenset({"21", "22", "42", "54"})


@asynccontextmanager
async def sandboxed(conn: psycopg.AsyncConnection[Any], *,
                    statement_timeout: timedelta = timedelta(seconds=2),
                    ) -> AsyncIterator[None]:
    """A READ ONLY transaction with ``statement_timeout`` in which to run a query built with
    ``render_where``; errors the client's expression causes become ``QueryRefused``.

    Open it on an autocommit connection (the query pool's), as ``postlog_reader``.

    ``search_path`` is ``pg_catalog`` only: the sandbox names every table with its schema, and
    no other schema's functions or operators can shadow the built-in ones.
    """
    milliseconds = max(1, int(statement_timeout.total_seconds() * 1000))
    try:
        async with conn.transaction():
            await conn.execute("SET TRANSACTION READ ONLY")
            await conn.execute("SELECT set_config('statement_timeout', %s, true),"
                               " set_config('search_path', 'pg_catalog', true)",
                               [f"{milliseconds}ms"])
            yield
    except pg_errors.QueryCanceled as error:
        raise QueryRefused(f"query took longer than {milliseconds} ms and was cancelled"
                           ) from error
    except psycopg.Error as error:
        if (error.sqlstate or "")[:2] not in _CLIENT_ERROR_CLASSES:
            raise
        raise QueryRefused(f"query failed: {error.diag.message_primary or error}") from error
