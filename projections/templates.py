"""The ``templates`` read model: one row per live e-mail template, shaped like listmonk's table.

``is_default`` moves with ``template.default_unset`` and ``template.default_set``, which the
command side appends in that order in one transaction, so at most one row is the default at
any committed position. Ids come from a sequence and the decider refuses a second creation,
so a clash on ``id`` means a hand-made log; the first creation wins (on every replay) rather
than stalling the projection.
"""

from __future__ import annotations

from psycopg import sql

from events.store import RecordedEvent
from events.templates import (
    TemplateCreated,
    TemplateDefaultSet,
    TemplateDefaultUnset,
    TemplateDeleted,
    TemplateUpdated,
)
from projections.base import Statement, Tables

TEMPLATES = "templates"


class TemplatesProjection:
    """E-mail templates by id: what ``GET /api/templates`` and the previews read."""

    name = "templates"
    categories: tuple[str, ...] = ("template",)
    tables: tuple[str, ...] = (TEMPLATES,)
    # Applied even on a stream frozen by the quarantine (projections.base.QuarantineAware).
    applied_on_frozen_streams = frozenset({"template.deleted"})

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        return [
            sql.SQL(
                "CREATE TABLE {} ("
                " id bigint PRIMARY KEY,"
                " name text NOT NULL,"
                " type text NOT NULL,"
                " subject text NOT NULL DEFAULT '',"
                " body text NOT NULL,"
                " body_source text NULL,"
                " is_default boolean NOT NULL DEFAULT false,"
                " created_at timestamptz NOT NULL,"
                " updated_at timestamptz NOT NULL)"
            ).format(t[TEMPLATES]),
        ]

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        table = t[TEMPLATES]
        e = event.decode()
        if isinstance(e, TemplateCreated):
            return [(
                sql.SQL(
                    "INSERT INTO {} (id, name, type, subject, body, body_source, created_at,"
                    " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING"
                ).format(table),
                (e.template_id, e.name, e.template_type, e.subject, e.body, e.body_source,
                 e.at, e.at),
            )]
        if isinstance(e, TemplateUpdated):
            return [(
                sql.SQL(
                    "UPDATE {} SET name = %s, subject = %s, body = %s, body_source = %s,"
                    " updated_at = %s WHERE id = %s"
                ).format(table),
                (e.name, e.subject, e.body, e.body_source, e.at, e.template_id),
            )]
        if isinstance(e, TemplateDefaultSet | TemplateDefaultUnset):
            is_default = isinstance(e, TemplateDefaultSet)
            return [(sql.SQL("UPDATE {} SET is_default = %s WHERE id = %s").format(table),
                     (is_default, e.template_id))]
        if isinstance(e, TemplateDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (e.template_id,))]
        return []
