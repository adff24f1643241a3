"""compose.yaml is a valid Compose file and wires every postlog service the way the docs say.

The Compose specification's JSON schema is vendored in ``compose-spec.json`` (source and
licence in docs/deployment.md), so this runs without a network and without Docker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
GATEWAY_TEMPLATE = ROOT / "deploy" / "nginx" / "gateway.conf.template"

POSTLOG_SERVICES = ("command-api", "query-api", "projector", "relay", "sender")
REQUIRED_ENV = (
    "POSTLOG_DATABASE_URL",
    "POSTLOG_NATS_URL",
    "POSTLOG_NATS_PREFIX",
    "POSTLOG_HOST",
    "POSTLOG_PORT",
    "POSTLOG_ADMIN_USER",
    "POSTLOG_ADMIN_PASSWORD",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whichever of the two Compose forms it uses."""
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def conditions(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_rejects_a_broken_compose_file() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    broken = {"services": {"web": {"image": "nginx", "ports": {"not": "a list"}, "bogus": 1}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


@pytest.mark.parametrize("name", POSTLOG_SERVICES)
def test_each_service_runs_its_own_serve_command(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert service["command"] == ["serve", name]
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    env = env_of(service)
    missing = [key for key in REQUIRED_ENV if key not in env]
    assert not missing, f"{name} lacks {missing}"
    assert env["POSTLOG_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["POSTLOG_DATABASE_URL"]
    assert env["POSTLOG_NATS_URL"] == "nats://nats:4222"
    assert conditions(service) == {
        "postgres": "service_healthy",
        "nats": "service_healthy",
        "migrate": "service_completed_successfully",
    }


def test_all_postlog_services_share_one_configuration(services: dict[str, Any]) -> None:
    envs = [env_of(services[name]) for name in POSTLOG_SERVICES]
    assert all(env == envs[0] for env in envs)
    assert env_of(services["migrate"]) == envs[0]


def test_migrations_run_once_before_the_services(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert conditions(migrate) == {"postgres": "service_healthy"}


def test_backing_services_are_postgres_15_and_nats_with_jetstream(
    services: dict[str, Any],
) -> None:
    postgres, nats = services["postgres"], services["nats"]
    assert postgres["image"] == "postgres:15"
    assert "healthcheck" in postgres
    assert nats["image"].startswith("nats:2")
    assert "-js" in nats["command"]
    assert any(volume.endswith(":/data") for volume in nats["volumes"])
    assert "healthcheck" in nats


def test_the_apis_report_health_to_the_gateway(services: dict[str, Any]) -> None:
    for name in ("command-api", "query-api"):
        check = " ".join(services[name]["healthcheck"]["test"])
        assert "/metrics" in check
    assert conditions(services["gateway"]) == {
        "command-api": "service_healthy",
        "query-api": "service_healthy",
    }


def test_the_gateway_publishes_port_9000_with_the_deploy_template(
    services: dict[str, Any],
) -> None:
    gateway = services["gateway"]
    assert gateway["image"].startswith("nginx:")
    assert gateway["ports"] == ["9000:9000"]
    env = env_of(gateway)
    assert env == {
        "COMMAND_API": "command-api:9000",
        "QUERY_API": "query-api:9000",
        "GATEWAY_PORT": "9000",
    }
    source, target = gateway["volumes"][0].split(":")[:2]
    assert (ROOT / source).resolve() == GATEWAY_TEMPLATE
    assert target.startswith("/etc/nginx/templates/") and target.endswith(".conf.template")
    template = GATEWAY_TEMPLATE.read_text()
    for placeholder in env:
        assert "${" + placeholder + "}" in template
    only_the_gateway_publishes = [
        name for name, service in services.items() if service.get("ports") and name != "gateway"
    ]
    assert only_the_gateway_publishes == []
