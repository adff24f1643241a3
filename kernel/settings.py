"""Runtime settings, read from ``POSTLOG_*`` environment variables when a process starts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a postlog process needs to know; built once at start-up and passed in."""

    model_config = SettingsConfigDict(env_prefix="POSTLOG_", extra="ignore")

    database_url: str | None = None
    nats_url: str | None = None
    nats_prefix: str = "postlog"
    data_dir: Path = Path(".postlog")
    host: str = "0.0.0.0"
    port: int = 9000
    # Default: http://localhost:<port> (a process on another port links to itself).
    root_url: str = "http://localhost:9000"
    admin_user: str | None = None
    admin_password: str | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"
    # How long a command waits for its projections before answering (read-your-writes).
    read_your_writes_timeout: float = 5.0
    max_body_bytes: int = 1_048_576
    db_pool_min: int = 2
    db_pool_max: int = 10
    # base64 of 32 bytes; when set, subscribers' data keys are stored wrapped (events/crypto.py).
    master_key: SecretStr | None = None
    # The From address of campaigns created without one (listmonk's settings "from_email").
    from_email: str = "postlog <noreply@localhost>"
    # How often the scheduler looks for scheduled campaigns whose send_at has passed.
    scheduler_interval: float = 1.0
    # A sender process that has not renewed its lease on a chunk of a campaign for this long
    # is taken for dead: another one takes the chunk over (docs/sender.md).
    sender_lease_seconds: float = 10.0

    @model_validator(mode="after")
    def _root_url_follows_the_port(self) -> Settings:
        """Without ``POSTLOG_ROOT_URL``, the root URL (links in mail: opt-in, unsubscribe,
        tracking) names the port this process listens on, not listmonk's 9000."""
        if "root_url" not in self.model_fields_set and self.port != 9000:
            self.root_url = f"http://localhost:{self.port}"
        return self

    @property
    def stream_name(self) -> str:
        """JetStream stream name derived from the prefix (``postlog`` -> ``POSTLOG``)."""
        return re.sub(r"[^A-Za-z0-9_-]", "_", self.nats_prefix).upper()

    def subject_for(self, category: str, event_type: str) -> str:
        """Subject an event is published on: ``<prefix>.<category>.<type>``."""
        return f"{self.nats_prefix}.{category}.{event_type}"

    @property
    def subject_wildcard(self) -> str:
        return f"{self.nats_prefix}.>"
