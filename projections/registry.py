"""Every projection of postlog, by name: what the projector runs and what can be rebuilt.

Projection modules are imported when asked for, not when this module loads, so tools that only
need a name (the CLI's argument parsing) stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from projections.base import Projection

if TYPE_CHECKING:
    from kernel.settings import Settings


def all_projections(settings: Settings | None = None) -> list[Projection]:
    """One instance of each read model, in a stable order.

    ``settings`` supplies the master key that unwraps subscribers' data keys (needed by the
    projections that decrypt personal data: pass it wherever events are applied).
    """
    from events.crypto import master_key_from
    from projections.bounces import BouncesProjection
    from projections.campaigns import CampaignsProjection
    from projections.deliveries import DeliveriesProjection
    from projections.lists import ListsProjection
    from projections.media import MediaProjection
    from projections.message_deliveries import MessageDeliveriesProjection
    from projections.roles import RolesProjection
    from projections.settings import SettingsProjection
    from projections.subscriber_counts import SubscriberCountsProjection
    from projections.subscribers import SubscribersProjection
    from projections.templates import TemplatesProjection
    from projections.tracking import TrackingProjection
    from projections.users import UsersProjection

    master_key = master_key_from(settings.master_key) if settings is not None else None
    return [ListsProjection(), MediaProjection(), SubscribersProjection(master_key),
            TemplatesProjection(),
            CampaignsProjection(), SubscriberCountsProjection(), BouncesProjection(master_key),
            SettingsProjection(), DeliveriesProjection(master_key),
            MessageDeliveriesProjection(master_key), TrackingProjection(),
            UsersProjection(master_key), RolesProjection()]


def projection_by_name(name: str, settings: Settings | None = None) -> Projection:
    """The projection called ``name``; ``KeyError`` listing the known names otherwise."""
    projections = all_projections(settings)
    for projection in projections:
        if projection.name == name:
            return projection
    known = ", ".join(sorted(p.name for p in projections))
    raise KeyError(f"unknown projection {name!r} (known: {known})")


async def ensure_read_models(settings: Settings) -> None:
    """Create every read model's tables if missing (idempotent), at service start.

    The projector would create them too, but the query side must be able to answer (with
    empty results) from its first request, even before a projector has ever run.
    """
    import psycopg

    from projections.base import live_tables
    from projections.storage import ensure_projection

    assert settings.database_url
    async with await psycopg.AsyncConnection.connect(
        settings.database_url, autocommit=True
    ) as conn:
        for projection in all_projections(settings):
            await ensure_projection(conn, projection, live_tables(projection))
