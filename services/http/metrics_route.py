"""``GET /metrics`` (Prometheus text format) and the public ``GET /health``; both without auth.

Besides the process's own figures (``Metrics.render``), each scrape reads the lags from the
database: how many committed events the relay (checkpoints ``relay:<stream>``) and every
projection (``readmodel.projection_checkpoints``) have still to handle, and how long the oldest of
them has waited. The scrape reads at most ``LAG_COUNT_CAP`` rows per checkpoint. It also reads
how many events each projection has quarantined (``readmodel.projection_quarantine``): anything
above zero means a read model lacks events until it is repaired (docs/projections.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import structlog
from litestar import Response, get
from litestar.datastructures import State
from litestar.types import ControllerRouterHandler
from psycopg import sql
from psycopg.rows import tuple_row

from kernel.metrics import MetricLines
from projections.quarantine import counts_by_name, quarantine_counts
from services.http.deps import provide_runtime
from services.runtime import Runtime

log = structlog.get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LAG_COUNT_CAP = 100_000
RELAY_PREFIX = "relay:"


def _projection_categories() -> dict[str, tuple[str, ...]]:
    """Categories each registered projection reads (all categories when unknown)."""
    try:
        from projections.registry import all_projections

        return {p.name: tuple(p.categories) for p in all_projections()}
    except ImportError as exc:  # a projection module missing must not break the scrape
        log.warning("metrics_projection_registry_unavailable", error=str(exc))
        return {}


async def _lag(
    conn: psycopg.AsyncConnection[Any], tx_id: int, position: int, categories: Sequence[str]
) -> tuple[int, float]:
    """(events behind, seconds the oldest of them has waited) after a checkpoint."""
    where = [
        sql.SQL("(tx_id, global_position) > (%s::text::xid8, %s)"),
        sql.SQL("tx_id < pg_snapshot_xmin(pg_current_snapshot())"),
    ]
    params: list[Any] = [tx_id, position]
    if categories:
        where.append(sql.SQL("category = ANY(%s)"))
        params.append(list(categories))
    params.append(LAG_COUNT_CAP)
    query = sql.SQL(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(recorded_at)), 0)::float8"
        " FROM (SELECT recorded_at FROM eventlog.events WHERE {}"
        " ORDER BY tx_id, global_position LIMIT %s) pending"
    ).format(sql.SQL(" AND ").join(where))
    cur = await conn.cursor(row_factory=tuple_row).execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]), max(float(row[1]), 0.0)


async def _checkpoints(
    conn: psycopg.AsyncConnection[Any], table: str
) -> list[tuple[str, int, int]]:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        sql.SQL("SELECT name, tx_id::text::bigint, global_position FROM {} ORDER BY name").format(
            sql.SQL(table)
        )
    )
    return [(str(r[0]), int(r[1]), int(r[2])) for r in await cur.fetchall()]


async def lag_lines(runtime: Runtime, categories: Mapping[str, Sequence[str]]) -> MetricLines:
    """Relay and projection lag, read now from the event log and the checkpoints."""
    out = MetricLines()
    relay: list[tuple[str, int, float]] = []
    projections: list[tuple[str, int, float]] = []
    async with runtime.pool.connection() as conn:
        for name, tx, pos in await _checkpoints(conn, "eventlog.checkpoints"):
            if name.startswith(RELAY_PREFIX):
                relay.append((name[len(RELAY_PREFIX):], *await _lag(conn, tx, pos, ())))
        for name, tx, pos in await _checkpoints(conn, "readmodel.projection_checkpoints"):
            projections.append((name, *await _lag(conn, tx, pos, categories.get(name, ()))))
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT coalesce(max(global_position), 0) FROM eventlog.events"
        )
        head = await cur.fetchone()
        quarantined = await quarantine_counts(conn)
    out.family("log_head_position", "gauge", "Highest global position in the event log.")
    out.sample("log_head_position", int(head[0]) if head else 0)
    for label, rows in (("stream", relay), ("projection", projections)):
        kind = "relay" if label == "stream" else "projection"
        out.family(f"{kind}_lag_events", "gauge", f"Committed events the {kind} has not handled.")
        for name, behind, _ in rows:
            out.labelled(f"{kind}_lag_events", behind, [(label, name)])
        out.family(
            f"{kind}_lag_seconds", "gauge", f"Age of the oldest event the {kind} has not handled."
        )
        for name, _, seconds in rows:
            out.labelled(f"{kind}_lag_seconds", seconds, [(label, name)])
    out.family("projection_quarantined_events", "gauge",
               "Events a projection could not apply, held in its quarantine.")
    names = sorted({name for name, _, _ in projections} | set(quarantined))
    for name, count in counts_by_name(quarantined, names).items():
        out.labelled("projection_quarantined_events", count, [("projection", name)])
    return out


async def render_metrics(runtime: Runtime) -> str:
    """The whole exposition text: process figures, then database figures (if reachable).

    A figure read from the database replaces the in-process one of the same name (the
    projection runner keeps ``projection_lag_*`` gauges of its own, refreshed less often).
    """
    lags = MetricLines()
    up = MetricLines()
    up.family("database_up", "gauge", "Whether this scrape could read the lags from PostgreSQL.")
    try:
        lags = await lag_lines(runtime, _projection_categories())
        up.sample("database_up", 1)
    except (psycopg.Error, OSError) as exc:
        log.warning("metrics_lag_unavailable", error=str(exc))
        up.sample("database_up", 0)
    lines = runtime.metrics.render(skip=lags.families)
    return "\n".join([*lines, *lags.lines, *up.lines]) + "\n"


@get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics(state: State) -> Response[str]:
    return Response(content=await render_metrics(provide_runtime(state)), media_type=CONTENT_TYPE)


@get("/health", operation_id="public_health", include_in_schema=False)
async def public_health() -> dict[str, bool]:
    """listmonk's unauthenticated health check (``/api/health`` needs credentials)."""
    return {"data": True}


def observability_routes() -> list[ControllerRouterHandler]:
    return [metrics, public_health]
