"""Process composition: ``postlog up`` (everything in one process) and ``postlog serve NAME``.

Each process runs one asyncio event loop holding the HTTP server (uvicorn, when the process
serves an API) and the background services (relay, projector, sender) as tasks. SIGINT and
SIGTERM stop it gracefully: the HTTP server stops accepting and finishes its requests, then the
background services are asked to stop; a second signal exits at once. A background service that
ends on its own is a failure: the process stops with exit code 1, so an orchestrator restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AsyncExitStack
from typing import Any, Literal, TextIO

import structlog
import uvicorn
from litestar import Litestar

from events.settings import AppSettings
from kernel.nats import connect, ensure_stream
from kernel.settings import Settings
from postlog.app import AppPart, create_app
from postlog.migrate import migrate
from projections.registry import ensure_read_models
from services.runtime import open_runtime

log = structlog.get_logger(__name__)

ServiceName = Literal["command-api", "query-api", "projector", "relay", "sender"]
SERVICES: tuple[ServiceName, ...] = ("command-api", "query-api", "projector", "relay", "sender")
HTTP_PARTS: dict[str, tuple[AppPart, ...]] = {"command-api": ("command",), "query-api": ("query",)}
STARTED_DEADLINE_SECONDS = 60.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (postlog's loop owns SIGINT/SIGTERM), telling
    when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()


def http_server(app: Litestar, settings: Settings) -> _Server:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        log_config=None,
        log_level="warning",  # startup chatter duplicates the banner; requests are logged by
        access_log=False,  # postlog's own middleware
        server_header=False,
        ws="none",
        timeout_graceful_shutdown=10,
    )
    return _Server(config)


def bound_port(server: uvicorn.Server) -> int:
    """The port the server listens on (differs from the setting when that is 0)."""
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("the HTTP server is not listening")


def install_stop_signals(stop: asyncio.Event) -> None:
    """First SIGINT/SIGTERM: graceful stop. Second: exit immediately."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("forced_exit", signal=sig.name)
            os._exit(128 + sig.value)
        log.info("stopping", signal=sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)


async def _serve_http(server: uvicorn.Server) -> None:
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn exits the process when it cannot bind or start
        raise RuntimeError(f"the HTTP server could not start (exit code {exc.code})") from None


async def run_until_stopped(
    stop: asyncio.Event,
    server: _Server | None,
    tasks: Sequence[asyncio.Task[None]],
    on_started: Callable[[int | None], None] = lambda port: None,
) -> int:
    """Run until a stop signal (exit code 0) or until a component ends by itself (exit code 1)."""
    stop_waiter = asyncio.create_task(stop.wait(), name="stop-signal")
    watched: list[asyncio.Task[Any]] = [stop_waiter, *tasks]
    serve_task = None
    if server is not None:
        serve_task = asyncio.create_task(_serve_http(server), name="http")
        watched.append(serve_task)
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait([listening, serve_task], timeout=STARTED_DEADLINE_SECONDS,
                           return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
    if serve_task is None or not serve_task.done():
        on_started(bound_port(server) if server is not None else None)
    # Everything built at start (modules, the app, its routes) lives as long as the process:
    # out of the collector's sight, a full collection scans only what requests and batches
    # made since (one took ~60 ms on the whole heap, stalling every request in flight).
    gc.collect()
    gc.freeze()
    done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    failed = [task for task in done if task is not stop_waiter]
    for task in failed:
        error = None if task.cancelled() else task.exception()
        log.error("component_stopped_unexpectedly", component=task.get_name(), error=repr(error))
    if server is not None and serve_task is not None:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serve_task
    stop_waiter.cancel()
    return 1 if failed else 0


async def ensure_nats_stream(settings: Settings) -> None:
    """Create the JetStream stream if missing, so consumers can attach before the relay runs."""
    nc = await connect(settings, "setup")
    try:
        await ensure_stream(nc.jetstream(), settings)
    finally:
        await nc.close()


async def up(settings: Settings, on_started: Callable[[str, Any, AppSettings], None], *,
             sender_processes: int = 1) -> int:
    """Everything in one process: both APIs on one port, the relay, the projector, the
    scheduler and the sender; with ``sender_processes`` > 1, that many minus one more
    sender processes as supervised children (``postlog serve sender --processes 1``, output
    discarded but for their logs), started once the schema is up to date.

    ``on_started(url, admin, app_settings)`` is called once the port accepts connections, with
    the admin credentials (``services.command_api.users.handlers.ensure_admin``) and the
    settings in force (where mail goes).
    """
    from postlog.supervisor import EVERYTHING, background_services, sender_children
    from services.command_api.templates.seed import ensure_default_templates
    from services.command_api.users.handlers import ensure_admin

    stop = asyncio.Event()
    install_stop_signals(stop)
    assert settings.database_url
    await migrate(settings.database_url)
    await ensure_read_models(settings)
    await ensure_nats_stream(settings)
    async with open_runtime(settings) as runtime:
        admin = await ensure_admin(runtime.pool, settings)
        await ensure_default_templates(runtime.pool)
        server = http_server(create_app(runtime), settings)
        async with background_services(runtime, EVERYTHING) as tasks, \
                sender_children(settings, sender_processes - 1) as children:
            mail = await runtime.live_settings.get()
            return await run_until_stopped(
                stop, server, [*tasks, *children],
                lambda port: on_started(display_url(settings, port), admin, mail))


def display_url(settings: Settings, port: int | None) -> str:
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port if port is not None else settings.port}"


async def serve(settings: Settings, name: ServiceName, out: TextIO) -> int:
    """One service per process, as compose.yaml deploys them (URLs must be configured)."""
    stop = asyncio.Event()
    install_stop_signals(stop)
    assert settings.database_url
    await migrate(settings.database_url)
    await ensure_read_models(settings)
    if name in ("projector", "relay", "sender"):
        await ensure_nats_stream(settings)
    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(open_runtime(settings))
        server = None
        tasks: Sequence[asyncio.Task[None]] = ()
        if name in HTTP_PARTS:
            from services.command_api.templates.seed import ensure_default_templates
            from services.command_api.users.handlers import ensure_admin

            admin = await ensure_admin(runtime.pool, settings)
            await ensure_default_templates(runtime.pool)
            if admin.generated:
                print(f"admin user: {admin.username}\nadmin password: {admin.password}"
                      " (generated now: note it, it is not shown again)", file=out, flush=True)
            server = http_server(create_app(runtime, parts=HTTP_PARTS[name]), settings)
            if name == "command-api":
                # Starting scheduled campaigns is a command; safe with several instances.
                from postlog.supervisor import background_services

                tasks = await stack.enter_async_context(
                    background_services(runtime, ("scheduler",))
                )
        elif name == "sender":
            from postlog.supervisor import background_services

            # which sender process logged a line, when several run (``serve_senders``)
            structlog.contextvars.bind_contextvars(pid=os.getpid())
            tasks = await stack.enter_async_context(background_services(runtime, ("sender",)))
        else:
            from postlog.supervisor import background_services

            component: Literal["projector", "relay"] = (
                "projector" if name == "projector" else "relay"
            )
            tasks = await stack.enter_async_context(background_services(runtime, (component,)))

        def started(port: int | None) -> None:
            where = f" on {display_url(settings, port)}" if port is not None else ""
            print(f"postlog {name} running{where}", file=out, flush=True)
            log.info("service_started", service=name, port=port)

        return await run_until_stopped(stop, server, tasks, started)


async def serve_senders(settings: Settings, processes: int, out: TextIO) -> int:
    """``postlog serve sender --processes N``: N sender children, supervised
    (``postlog.supervisor.SenderProcesses``: restarted when one dies, all stopped on
    SIGINT/SIGTERM); prints one line once the schema is up to date and they are started."""
    from postlog.supervisor import sender_children

    stop = asyncio.Event()
    install_stop_signals(stop)
    assert settings.database_url
    await migrate(settings.database_url)  # once, before the children race for it
    await ensure_read_models(settings)
    await ensure_nats_stream(settings)
    async with sender_children(settings, processes) as tasks:

        def started(_: int | None) -> None:
            print(f"postlog sender running ({processes} processes)", file=out, flush=True)
            log.info("service_started", service="sender", processes=processes)

        return await run_until_stopped(stop, None, tasks, started)


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine on uvloop when it is installed (a dependency of postlog; every
    process, sender children included, starts here)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - not on Windows
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)

