"""The ``media`` read model: listmonk's ``media`` and ``campaign_media`` tables.

``media`` has one row per live uploaded file (``media.uploaded``, removed by ``media.deleted``);
its ``key`` and ``thumb`` are the objects' keys with the provider, from which the readers make
the URLs with the settings in force (``services/media_storage``). ``campaign_media`` holds each
campaign's attachments in order (from the ``media`` of ``campaign.created`` /
``campaign.updated``, dropped with ``campaign.deleted``); like listmonk's ``ON DELETE SET
NULL``, a deleted file leaves its campaigns' rows with ``media_id`` NULL and the file name
recorded. A campaign event naming a file that was deleted before it (in log order) records it
with ``media_id`` NULL too, so a replay always gives the same rows.
"""

from __future__ import annotations

from psycopg import sql
from psycopg.types.json import Jsonb

from events.campaigns import CampaignCreated, CampaignDeleted, CampaignUpdated
from events.media import MediaDeleted, MediaUploaded
from events.store import RecordedEvent
from projections.base import Statement, Tables

MEDIA = "media"
CAMPAIGN_MEDIA = "campaign_media"

_TYPES = frozenset({"media.uploaded", "media.deleted", "campaign.created", "campaign.updated",
                    "campaign.deleted"})


class MediaProjection:
    """Uploaded files and campaigns' attachments: what ``GET /api/media`` and the campaigns'
    ``media`` read."""

    name = "media"
    categories: tuple[str, ...] = ("media", "campaign")
    tables: tuple[str, ...] = (MEDIA, CAMPAIGN_MEDIA)
    # Deletions by id depend on nothing before them (projections.base.QuarantineAware).
    applied_on_frozen_streams = frozenset({"media.deleted", "campaign.deleted"})

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        media, links = t[MEDIA], t[CAMPAIGN_MEDIA]
        return [
            sql.SQL(
                "CREATE TABLE {} ("
                " id bigint PRIMARY KEY,"
                " uuid uuid NOT NULL,"
                " provider text NOT NULL,"
                " filename text NOT NULL,"
                " content_type text NOT NULL,"
                " key text NOT NULL,"
                " thumb text NOT NULL DEFAULT '',"
                " size bigint NOT NULL DEFAULT 0,"
                " meta jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
                " created_at timestamptz NOT NULL)"
            ).format(media),
            sql.SQL("CREATE INDEX ON {} (provider, created_at)").format(media),
            sql.SQL("CREATE INDEX ON {} (filename)").format(media),
            sql.SQL(
                "CREATE TABLE {} ("
                " campaign_id bigint NOT NULL,"
                " position int NOT NULL,"
                " media_id bigint NULL,"
                " filename text NOT NULL DEFAULT '',"
                " PRIMARY KEY (campaign_id, position))"
            ).format(links),
            sql.SQL("CREATE INDEX ON {} (media_id)").format(links),
        ]

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        if event.type not in _TYPES:
            return []
        media, links = t[MEDIA], t[CAMPAIGN_MEDIA]
        e = event.decode()
        if isinstance(e, MediaUploaded):
            meta = {"width": e.width, "height": e.height} if e.width and e.height else {}
            return [(sql.SQL(
                "INSERT INTO {} (id, uuid, provider, filename, content_type, key, thumb, size,"
                " meta, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING").format(media),
                (e.media_id, e.uuid, e.provider, e.filename, e.content_type, e.key, e.thumb_key,
                 e.size, Jsonb(meta), e.at))]
        if isinstance(e, MediaDeleted):
            return [
                (sql.SQL("DELETE FROM {} WHERE id = %s").format(media), (e.media_id,)),
                (sql.SQL("UPDATE {} SET media_id = NULL WHERE media_id = %s").format(links),
                 (e.media_id,)),
            ]
        if isinstance(e, CampaignCreated | CampaignUpdated):
            out: list[Statement] = [
                (sql.SQL("DELETE FROM {} WHERE campaign_id = %s").format(links),
                 (e.campaign_id,))]
            for position, item in enumerate(e.content.media):
                out.append((sql.SQL(
                    "INSERT INTO {links} (campaign_id, position, media_id, filename)"
                    " SELECT %s, %s, (SELECT m.id FROM {media} m WHERE m.id = %s), %s"
                ).format(links=links, media=media),
                    (e.campaign_id, position, item.id, item.filename)))
            return out
        if isinstance(e, CampaignDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE campaign_id = %s").format(links),
                     (e.campaign_id,))]
        return []
