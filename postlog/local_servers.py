"""Where a command finds PostgreSQL and NATS: configured URLs, a running ``postlog up``, or
embedded servers it starts itself under ``POSTLOG_DATA_DIR``.

``postlog up`` with no URLs configured writes the URLs of its embedded servers to
``<data_dir>/run.json`` (mode 0600) while it runs, so ``postlog events export``,
``postlog users create-api`` and the other admin commands reach the same database from another
terminal without any configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import structlog

from kernel.settings import Settings
from postlog.embedded import embedded_nats, embedded_postgres, ensure_database

log = structlog.get_logger(__name__)

DATABASE_NAME = "postlog"


class MissingServerError(RuntimeError):
    """A service needs a URL that is not configured (``serve`` never starts embedded servers)."""


def _run_file(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "run.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_up_urls(settings: Settings) -> dict[str, str]:
    """The embedded servers' URLs published by a live ``postlog up`` on this data dir, if any."""
    try:
        published = json.loads(_run_file(settings).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(published, dict) or not _alive(int(published.get("pid", 0)) or -1):
        return {}
    return {k: str(v) for k, v in published.items() if k in ("database_url", "nats_url") and v}


@contextlib.contextmanager
def publish_urls(settings: Settings, urls: dict[str, str]) -> Iterator[None]:
    """Write ``run.json`` for other postlog commands while the block runs; remove it after."""
    if not urls:
        yield
        return
    path = _run_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"pid": os.getpid(), **urls}, handle)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def resolved_settings(
    settings: Settings,
    *,
    need_nats: bool,
    allow_embedded: bool,
    purpose: str,
    reuse_running: bool = True,
) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Settings with ``database_url`` (and ``nats_url`` if needed) filled in.

    Order: the configured URL, then a running ``postlog up`` on the same data dir, then (when
    allowed) an embedded server started for the duration of the block. Also yields the URLs of
    the embedded servers started here, which ``postlog up`` publishes. ``postlog up`` itself
    passes ``reuse_running=False``: it owns its servers.
    """
    found = running_up_urls(settings) if allow_embedded and reuse_running else {}
    started: dict[str, str] = {}
    updates: dict[str, str] = {}
    data_dir = settings.data_dir.resolve()
    with contextlib.ExitStack() as stack:
        if not settings.database_url:
            if "database_url" in found:
                updates["database_url"] = found["database_url"]
            elif allow_embedded:
                admin_url = stack.enter_context(embedded_postgres(str(data_dir / "pg")))
                started["database_url"] = ensure_database(admin_url, DATABASE_NAME)
            else:
                raise MissingServerError(f"POSTLOG_DATABASE_URL is required for {purpose}")
        if need_nats and not settings.nats_url:
            if "nats_url" in found:
                updates["nats_url"] = found["nats_url"]
            elif allow_embedded:
                started["nats_url"] = stack.enter_context(embedded_nats(str(data_dir / "nats")))
            else:
                raise MissingServerError(f"POSTLOG_NATS_URL is required for {purpose}")
        if updates:
            log.info("using_running_postlog_up", data_dir=str(data_dir), urls=sorted(updates))
        yield settings.model_copy(update={**updates, **started}), started
