"""The whitelist of the subscriber query sandbox: tables, columns, operators, functions, types.

Everything a client's ``query=`` expression may contain is named here; anything else is refused.
The tables and columns are listmonk's (``schema.sql``), which the read models in schema
``readmodel`` mirror, so expressions written for listmonk keep working. docs/query-sandbox.md
explains each choice.
"""

from __future__ import annotations

from sqlglot import exp

READMODEL_SCHEMA = "readmodel"

# Tables an expression may read, with the columns it may name: listmonk's own allowlist
# (internal/core/subscribers.go) with the columns of its schema.sql. Campaign content
# (bodies, headers, attribs) is left out. A table whose read model does not exist yet fails at
# run time with "relation ... does not exist", a 400 like any other query error.
TABLES: dict[str, frozenset[str]] = {
    "subscribers": frozenset(
        {"id", "uuid", "email", "name", "attribs", "status", "created_at", "updated_at"}
    ),
    "subscriber_lists": frozenset(
        {"subscriber_id", "list_id", "meta", "status", "created_at", "updated_at"}
    ),
    "lists": frozenset(
        {"id", "uuid", "name", "type", "optin", "status", "tags", "description",
         "created_at", "updated_at"}
    ),
    "campaigns": frozenset(
        {"id", "uuid", "name", "subject", "from_email", "content_type", "send_at", "status",
         "tags", "type", "messenger", "template_id", "to_send", "sent", "archive",
         "started_at", "created_at", "updated_at"}
    ),
    "campaign_lists": frozenset({"id", "campaign_id", "list_id", "list_name"}),
    "campaign_views": frozenset({"id", "campaign_id", "subscriber_id", "created_at"}),
    "links": frozenset({"id", "uuid", "url", "created_at"}),
    "link_clicks": frozenset({"id", "campaign_id", "link_id", "subscriber_id", "created_at"}),
    "bounces": frozenset(
        {"id", "subscriber_id", "campaign_id", "type", "source", "meta", "created_at"}
    ),
}

# The tables the caller's own query puts in scope around the expression. The default suits a
# query over ``readmodel.subscribers`` alone; listmonk's own query also LEFT JOINs
# ``subscriber_lists``, which a caller doing the same passes as ``LISTMONK_OUTER``.
SUBSCRIBERS_OUTER: tuple[str, ...] = ("subscribers",)
LISTMONK_OUTER: tuple[str, ...] = ("subscribers", "subscriber_lists")

MAX_QUERY_LENGTH = 10_000
MAX_SUBSELECT_DEPTH = 4
MAX_FROM_TABLES = 3

# Operators and structural nodes allowed anywhere an expression may appear.
OPERATOR_NODES: frozenset[type[exp.Expr]] = frozenset({
    exp.And, exp.Or, exp.Not, exp.Paren, exp.Tuple,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
    exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.SimilarTo, exp.Escape,
    exp.RegexpLike, exp.RegexpILike, exp.Any, exp.All, exp.Exists, exp.Case, exp.If,
    exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.DPipe,
    exp.Literal, exp.Boolean, exp.Null, exp.Array, exp.Cast, exp.DataType, exp.DataTypeParam,
    # JSON(B): -> ->> #> #>> @> <@ ? ?| ?& and array overlap &&.
    exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar,
    exp.ArrayContainsAll, exp.ArrayContainedBy, exp.ArrayOverlaps,
    exp.JSONBContainsTopKey, exp.JSONBContainsAnyTopKeys, exp.JSONBContainsAllTopKeys,
    # Sub-select clauses (the Select itself is checked on its own).
    exp.Subquery, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit,
    exp.Offset, exp.Distinct,
})

# Functions sqlglot parses into typed nodes, with the Postgres name shown in refusals.
FUNCTIONS: dict[type[exp.Expr], str] = {
    exp.Lower: "lower", exp.Upper: "upper", exp.Coalesce: "coalesce", exp.Nullif: "nullif",
    exp.Length: "length", exp.Trim: "trim", exp.Substring: "substring",
    exp.StrPosition: "position", exp.Left: "left", exp.Right: "right", exp.Replace: "replace",
    exp.SplitPart: "split_part", exp.Concat: "concat", exp.ConcatWs: "concat_ws",
    exp.StartsWith: "starts_with", exp.Abs: "abs", exp.Round: "round", exp.Floor: "floor",
    exp.Ceil: "ceil", exp.Greatest: "greatest", exp.Least: "least",
    exp.TimestampTrunc: "date_trunc", exp.Extract: "extract", exp.CurrentTimestamp: "now",
    exp.CurrentDate: "current_date", exp.Date: "date", exp.ArraySize: "array_length",
}

# Aggregates: only inside a sub-select (Postgres refuses them in a WHERE anyway).
AGGREGATES: dict[type[exp.Expr], str] = {
    exp.Count: "count", exp.Min: "min", exp.Max: "max", exp.Sum: "sum", exp.Avg: "avg",
}

# Functions sqlglot leaves as plain calls (exp.Anonymous), by lower-case name. ``all`` is
# sqlglot's reading of ``x = ALL(ARRAY[...])``.
ANONYMOUS_FUNCTIONS: frozenset[str] = frozenset({
    "age", "cardinality", "octet_length", "jsonb_typeof", "jsonb_array_length",
    "jsonb_extract_path", "jsonb_extract_path_text", "all",
})

# Types a value may be cast to.
CAST_TYPES: frozenset[exp.DType] = frozenset({
    exp.DType.INT, exp.DType.BIGINT, exp.DType.SMALLINT, exp.DType.DECIMAL,
    exp.DType.DOUBLE, exp.DType.FLOAT, exp.DType.TEXT, exp.DType.VARCHAR, exp.DType.CHAR,
    exp.DType.BOOLEAN, exp.DType.DATE, exp.DType.TIMESTAMP, exp.DType.TIMESTAMPTZ,
    exp.DType.INTERVAL, exp.DType.JSON, exp.DType.JSONB, exp.DType.UUID, exp.DType.ARRAY,
})

# Field names of date_trunc/extract/interval units (Postgres spells some in the plural too).
_SINGULAR_UNITS = (
    "microsecond", "millisecond", "second", "minute", "hour", "day", "week", "month",
    "quarter", "year", "decade", "century", "millennium",
)
TIME_UNITS: frozenset[str] = frozenset({
    *_SINGULAR_UNITS, *(unit + "s" for unit in _SINGULAR_UNITS), "centuries", "millennia",
    "dow", "doy", "epoch", "isodow", "isoyear", "julian", "timezone", "timezone_hour",
    "timezone_minute",
})

# How refused constructs are named in a refusal (``<name> is not allowed``).
REFUSED_NAMES: dict[type[exp.Expr], str] = {
    exp.Union: "UNION", exp.Intersect: "INTERSECT", exp.Except: "EXCEPT",
    exp.With: "WITH (a common table expression)", exp.CTE: "WITH (a common table expression)",
    exp.Window: "a window function (OVER)", exp.Filter: "an aggregate FILTER clause",
    exp.Lock: "a locking clause (FOR UPDATE/SHARE)", exp.Into: "SELECT ... INTO",
    exp.Values: "a VALUES list", exp.Collate: "COLLATE", exp.Lateral: "LATERAL",
    exp.Placeholder: "a parameter placeholder", exp.Parameter: "a parameter placeholder",
    exp.RawString: "dollar quoting ($$...$$)", exp.ByteString: "an escape string (E'...')",
    exp.UnicodeString: "a Unicode escape string (U&'...')",
    exp.HexString: "a bit-string constant", exp.BitString: "a bit-string constant",
    exp.National: "a national string (N'...')", exp.Lambda: "a lambda expression",
    exp.Alias: "an alias outside a sub-select's column list",
    exp.BitwiseNot: "operator ~ (bitwise not)", exp.BitwiseAnd: "operator & (bitwise and)",
    exp.BitwiseOr: "operator | (bitwise or)", exp.BitwiseXor: "operator # (bitwise xor)",
    exp.Overlaps: "OVERLAPS", exp.TableSample: "TABLESAMPLE", exp.Pow: "operator ^ (power)",
    exp.MatchAgainst: "operator @@ (text search)", exp.Distance: "operator <-> (distance)",
    exp.Operator: "OPERATOR(...)", exp.Bracket: "subscripts ([...])",
}

# Clauses a sub-select may have; the others are refused under these names.
SELECT_CLAUSES: frozenset[str] = frozenset({
    "expressions", "distinct", "from_", "joins", "where", "group", "having", "order", "limit",
    "offset",
})
REFUSED_CLAUSES: dict[str, str] = {
    "with_": "WITH (a common table expression)", "into": "SELECT ... INTO",
    "locks": "a locking clause (FOR UPDATE/SHARE)", "windows": "a WINDOW clause",
    "laterals": "LATERAL", "sample": "TABLESAMPLE", "for_": "a FOR clause",
}
