"""``GET /api/settings``: the settings in force, secrets masked as listmonk masks them."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency

from readmodels.settings import fetch_settings, masked_json
from services.auth.guard import require_auth
from services.runtime import Runtime


@get("/api/settings", guards=[require_auth], operation_id="getSettings")
async def get_settings(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Every setting with listmonk's keys; each secret is ``•`` once per character."""
    s = runtime.settings
    stored = await fetch_settings(runtime.read_pool, root_url=s.root_url,
                                  from_email=s.from_email)
    return {"data": masked_json(stored)}
