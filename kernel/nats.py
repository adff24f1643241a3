"""NATS connection and the JetStream stream that carries the event log."""

from __future__ import annotations

from typing import Any

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from kernel.settings import Settings

log = structlog.get_logger(__name__)

# Long enough that a relay restarted after a crash re-publishes into the dedupe window.
DUPLICATE_WINDOW_SECONDS = 15 * 60


async def connect(settings: Settings, name: str, **options: Any) -> Client:
    """Connect with endless reconnects, so a NATS outage never kills a postlog process."""
    assert settings.nats_url, "nats_url must be resolved before connecting"

    client: Client | None = None

    async def on_disconnect() -> None:
        if client is not None and (client.is_closed or client.is_draining):
            log.debug("nats_closed", client=name)  # our own close, not an outage
            return
        log.warning("nats_disconnected", client=name)

    async def on_reconnect() -> None:
        log.info("nats_reconnected", client=name)

    async def on_error(exc: Exception) -> None:
        log.debug("nats_error", client=name, error=str(exc))

    client = await nats.connect(
        settings.nats_url,
        name=f"postlog-{name}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
        **options,
    )
    return client


def stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.stream_name,
        subjects=[settings.subject_wildcard],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


async def ensure_stream(js: JetStreamContext, settings: Settings) -> None:
    """Create the stream if it is missing (idempotent; leaves an existing one as it is)."""
    try:
        await js.stream_info(settings.stream_name)
    except NotFoundError:
        await js.add_stream(stream_config(settings))
        log.info("nats_stream_created", stream=settings.stream_name)
