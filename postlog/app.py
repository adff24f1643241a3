"""Builds the Litestar applications: command API, query API, or both on one port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Literal

from litestar import Litestar
from litestar.di import Provide

from postlog.runtime import Runtime
from services.command_api.routes import command_routes
from services.http.deps import provide_runtime
from services.http.errors import EXCEPTION_HANDLERS
from services.query_api.routes import query_routes

AppPart = Literal["command", "query"]


def create_app(
    runtime: Runtime,
    parts: tuple[AppPart, ...] = ("command", "query"),
    lifespan: list[Callable[[Litestar], AbstractAsyncContextManager[None]]] | None = None,
) -> Litestar:
    """One ASGI app serving the given parts over an already opened ``Runtime``."""
    handlers = []
    if "command" in parts:
        handlers.extend(command_routes())
    if "query" in parts:
        handlers.extend(query_routes())

    @asynccontextmanager
    async def attach_runtime(app: Litestar) -> AsyncIterator[None]:
        app.state.runtime = runtime
        yield

    return Litestar(
        route_handlers=handlers,
        dependencies={"runtime": Provide(provide_runtime, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[attach_runtime, *(lifespan or [])],
        request_max_body_size=runtime.settings.max_body_bytes,
        openapi_config=None,
        debug=False,
    )
