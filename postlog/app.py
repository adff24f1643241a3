"""Builds the Litestar applications: command API, query API, or both on one port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Literal

from litestar import Litestar
from litestar.di import Provide

from services.command_api.imports.job import stop_all as stop_imports
from services.command_api.routes import command_routes
from services.http.deps import provide_runtime
from services.http.errors import EXCEPTION_HANDLERS
from services.http.metrics_route import observability_routes
from services.http.middleware import install_observability, install_url_guard
from services.http.pages import bind_site
from services.query_api.media.serving import install_uploads
from services.query_api.routes import query_routes
from services.query_api.server.routes import collect_logs
from services.runtime import Runtime
from services.tracking.recorder import TrackingRecorder

AppPart = Literal["command", "query"]


def create_app(
    runtime: Runtime,
    parts: tuple[AppPart, ...] = ("command", "query"),
    lifespan: list[Callable[[Litestar], AbstractAsyncContextManager[None]]] | None = None,
    tracking: TrackingRecorder | None = None,
) -> Litestar:
    """One ASGI app serving the given parts over an already opened ``Runtime``.

    The query part records views and clicks through a ``TrackingRecorder`` (``tracking``, or
    one on the runtime's writer pool), flushed in the background and at shutdown."""
    handlers = observability_routes()
    if "command" in parts:
        handlers.extend(command_routes())
    if "query" in parts:
        handlers.extend(query_routes())

    @asynccontextmanager
    async def attach_runtime(app: Litestar) -> AsyncIterator[None]:
        app.state.runtime = runtime
        recorder = None
        if "query" in parts:
            recorder = tracking or TrackingRecorder(runtime.pool, runtime.read_pool)
            app.state.tracking = recorder
        try:
            yield
        finally:
            if "command" in parts:
                await stop_imports()  # imports running in this process end "failed"
            if recorder is not None:
                await recorder.close()  # appends every hit still held

    app = Litestar(
        route_handlers=handlers,
        dependencies={"runtime": Provide(provide_runtime, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=bind_site,  # app.site_name and custom CSS on public pages
        # the query API follows every process's log lines (/api/logs, /api/events)
        lifespan=[attach_runtime, *([collect_logs] if "query" in parts else []),
                  *(lifespan or [])],
        request_max_body_size=runtime.settings.max_body_bytes,
        openapi_config=None,
        logging_config=None,  # structlog is configured per process (kernel.logging)
        debug=False,
    )
    if "query" in parts:  # uploaded files, under a URI the live settings name
        install_uploads(app, runtime)
    install_url_guard(app)
    # Outside routing and the exception handlers, so 404/405/500 get an id, a log line, a count.
    install_observability(app, runtime.metrics)
    return app
