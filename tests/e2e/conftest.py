"""Two real deployments of postlog, each on its own fresh database and NATS prefix.

* ``split_deployment``: one OS process per service plus the nginx gateway, wired the way
  compose.yaml wires the containers (same ``postlog`` commands, same env vars, same gateway
  template), with 127.0.0.1 ports instead of container names.
* ``single_deployment``: ``postlog up``, everything in one process.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kernel.nats import connect
from kernel.settings import Settings
from tests import servers
from tests.e2e.processes import (
    GATEWAY_TEMPLATE,
    NGINX_BIN,
    POSTLOG_BIN,
    Processes,
    answers,
    free_port,
    nginx_main_config,
    render_template,
    wait_until,
)

ADMIN = ("admin", "e2e-admin-password")
SERVICES = ("command-api", "query-api", "projector", "relay", "sender")
STARTUP_SECONDS = 90.0


@dataclass
class Deployment:
    """What a test needs to talk to a running deployment."""

    base_url: str
    processes: Processes
    service_ports: dict[str, int]
    log_dir: Path


def _require_cli() -> None:
    if importlib.util.find_spec("postlog.cli") is None or not POSTLOG_BIN.exists():
        pytest.skip("the postlog CLI (postlog/cli.py, .venv/bin/postlog) is not installed")


def _require_nginx() -> None:
    if not NGINX_BIN.exists():
        if os.geteuid() == 0:
            pytest.fail(f"{NGINX_BIN} is missing: apt-get install -y nginx-light (see Makefile)")
        pytest.skip(f"{NGINX_BIN} is missing and installing it needs root (apt: nginx-light)")


def postlog_env(
    database_url: str, nats_url: str, prefix: str, port: int, data_dir: Path
) -> dict[str, str]:
    """The environment compose.yaml gives every postlog container (addresses made local)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("POSTLOG_")}
    env.update(
        POSTLOG_DATABASE_URL=database_url,
        POSTLOG_NATS_URL=nats_url,
        POSTLOG_NATS_PREFIX=prefix,
        POSTLOG_HOST="127.0.0.1",
        POSTLOG_PORT=str(port),
        POSTLOG_ROOT_URL="http://127.0.0.1:9000",
        POSTLOG_ADMIN_USER=ADMIN[0],
        POSTLOG_ADMIN_PASSWORD=ADMIN[1],
        POSTLOG_DATA_DIR=str(data_dir),
        POSTLOG_LOG_FORMAT="json",
        POSTLOG_LOG_LEVEL="info",
        # Two shared CPU cores: give the projector process room before a command gives up waiting.
        POSTLOG_READ_YOUR_WRITES_TIMEOUT="20",
    )
    return env


async def _delete_stream(nats_url: str, prefix: str) -> None:
    settings = Settings(nats_url=nats_url, nats_prefix=prefix)
    nc = await connect(settings, "e2e-cleanup")
    try:
        await nc.jetstream().delete_stream(settings.stream_name)
    except Exception:  # the stream may never have been created
        pass
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def split_deployment(
    admin_pg_url: str, nats_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    _require_cli()
    _require_nginx()
    tmp = tmp_path_factory.mktemp("split")
    prefix = f"e2esplit{uuid.uuid4().hex[:8]}"
    database_url = servers.create_database(admin_pg_url)
    processes = Processes(tmp)
    ports = {name: free_port() for name in SERVICES}
    gateway_port = free_port()
    try:
        env = postlog_env(database_url, nats_server_url, prefix, free_port(), tmp)
        processes.run_once("migrate", [str(POSTLOG_BIN), "migrate"], env, timeout=60)
        for name in SERVICES:
            env = postlog_env(database_url, nats_server_url, prefix, ports[name], tmp)
            processes.start(name, [str(POSTLOG_BIN), "serve", name], env)
        for name in ("command-api", "query-api"):  # compose: healthcheck on /metrics
            url = f"http://127.0.0.1:{ports[name]}/metrics"
            wait_until(answers(url), processes, name, STARTUP_SECONDS)
        for name in ("projector", "relay", "sender"):  # no port: they say when they run
            wait_until(
                processes.logged(name, f"postlog {name} running"), processes, name, STARTUP_SECONDS
            )

        gateway_conf = tmp / "gateway.conf"
        gateway_conf.write_text(
            render_template(
                GATEWAY_TEMPLATE.read_text(),
                {
                    "COMMAND_API": f"127.0.0.1:{ports['command-api']}",
                    "QUERY_API": f"127.0.0.1:{ports['query-api']}",
                    "GATEWAY_PORT": f"127.0.0.1:{gateway_port}",
                },
            )
        )
        main_conf = tmp / "nginx.conf"
        main_conf.write_text(nginx_main_config(tmp, gateway_conf))
        processes.start(
            "nginx",
            [
                str(NGINX_BIN),
                "-c",
                str(main_conf),
                "-p",
                str(tmp),
                "-e",
                str(tmp / "nginx-error.log"),
                "-g",
                "daemon off;",
            ],
        )
        base_url = f"http://127.0.0.1:{gateway_port}"
        wait_until(answers(f"{base_url}/api/health", ADMIN), processes, "gateway", STARTUP_SECONDS)
        yield Deployment(base_url, processes, ports, tmp)
    finally:
        processes.stop_all()
        asyncio.run(_delete_stream(nats_server_url, prefix))
        servers.drop_database(admin_pg_url, database_url)


@pytest.fixture(scope="module")
def single_deployment(
    admin_pg_url: str, nats_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    _require_cli()
    tmp = tmp_path_factory.mktemp("single")
    prefix = f"e2eone{uuid.uuid4().hex[:8]}"
    database_url = servers.create_database(admin_pg_url)
    processes = Processes(tmp)
    port = free_port()
    try:
        env = postlog_env(database_url, nats_server_url, prefix, port, tmp)
        processes.start("up", [str(POSTLOG_BIN), "up"], env)
        base_url = f"http://127.0.0.1:{port}"
        wait_until(
            answers(f"{base_url}/api/health", ADMIN), processes, "postlog up", STARTUP_SECONDS
        )
        yield Deployment(base_url, processes, {"up": port}, tmp)
    finally:
        processes.stop_all()
        asyncio.run(_delete_stream(nats_server_url, prefix))
        servers.drop_database(admin_pg_url, database_url)
