"""The ``postlog`` command: run everything, run one service, and administer a deployment.

Settings come from ``POSTLOG_*`` environment variables, read once here. Commands that only need
the database (``migrate``, ``events``, ``users``, ``projections``) use, in order: the configured
URLs, the embedded servers of a ``postlog up`` running on the same ``POSTLOG_DATA_DIR``, or embedded
servers they start for themselves. ``postlog serve`` never starts embedded servers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import pydantic
import structlog

from kernel.errors import DomainError
from kernel.logging import configure_logging
from kernel.settings import Settings
from postlog.embedded import EmbeddedServerError
from postlog.local_servers import MissingServerError, publish_urls, resolved_settings
from postlog.serve import SERVICES, ServiceName, run_async

log = structlog.get_logger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postlog",
        description="listmonk-compatible newsletter manager on an event log. "
        "Configured with POSTLOG_* environment variables (see README.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser(
        "up", help="run everything in one process (embedded PostgreSQL/NATS when no URLs are set)"
    )
    up.add_argument("--sender-processes", type=_positive, default=None, metavar="N",
                    help="send campaigns from N processes: this one and N-1 supervised"
                    " children (default: one per CPU core)")
    serve = commands.add_parser("serve", help="run one service (needs database and NATS URLs)")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--processes", type=_positive, default=None, metavar="N",
                       help="sender only: run N supervised sender processes (default: one per"
                       " CPU core)")
    commands.add_parser("migrate", help="bring the database schema up to date")

    events = commands.add_parser("events", help="read the event log").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    export = events.add_parser("export", help="write the log as NDJSON, in log order")
    export.add_argument("--stream", help="only this stream, e.g. subscriber-42")
    export.add_argument("--since", metavar="POSITION",
                        help="only events after this position (tx:gp, or a global position)")
    export.add_argument("--until", metavar="TIME",
                        help="only events recorded at or before this ISO 8601 time"
                        " (UTC when it has no offset)")
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    tail = events.add_parser("tail", help="print the latest events, then new ones as they commit")
    tail.add_argument("--stream", help="only this stream")
    tail.add_argument("--last", "-n", type=int, default=10, metavar="N",
                      help="how many existing events to print first (default 10)")

    users = commands.add_parser("users", help="manage API users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create_api = users.add_parser("create-api", help="create an API user and print its token")
    create_api.add_argument("name")

    projections = commands.add_parser("projections", help="inspect and rebuild read models")
    actions = projections.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("status", help="position, lag and quarantined events of every projection")
    quarantine = actions.add_parser(
        "quarantine", help="list the events projections could not apply (see docs/projections.md)")
    quarantine.add_argument("name", nargs="?", help="only this projection")
    rebuild = actions.add_parser("rebuild", help="rebuild one read model from the log, no downtime")
    rebuild.add_argument("name")
    return parser


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve" and args.processes is not None and args.service != "sender":
        parser.error("--processes is for `postlog serve sender` only")
    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        print(f"postlog: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        return _dispatch(args, settings)
    except (MissingServerError, EmbeddedServerError, ValueError) as exc:
        print(f"postlog: error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:  # e.g. POSTLOG_ADMIN_USER names an API user
        print(f"postlog: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "up":
        return _up(settings, args.sender_processes)
    if args.command == "serve":
        service: ServiceName = args.service
        need_nats = service not in ("command-api", "query-api")
        with resolved_settings(settings, need_nats=need_nats, allow_embedded=False,
                               purpose=f"postlog serve {service}") as (resolved, _):
            from postlog.serve import serve, serve_senders
            from postlog.supervisor import default_processes

            processes = args.processes or default_processes()
            if service == "sender" and processes > 1:
                return run_async(serve_senders(resolved, processes, sys.stdout))
            return run_async(serve(resolved, service, sys.stdout))
    with resolved_settings(settings, need_nats=False, allow_embedded=True,
                           purpose=f"postlog {args.command}") as (resolved, _):
        from postlog import admin

        return run_async(admin.run(args, resolved))


def _up(settings: Settings, sender_processes: int | None) -> int:
    from postlog.serve import up
    from postlog.supervisor import default_processes

    with resolved_settings(settings, need_nats=True, allow_embedded=True, reuse_running=False,
                           purpose="postlog up") as (resolved, started), \
            publish_urls(resolved, started):

        def banner(url: str, admin: Any, app_settings: Any) -> None:
            print(_banner(resolved, started, url, admin, app_settings), flush=True)

        return run_async(up(resolved, banner,
                            sender_processes=sender_processes or default_processes()))


def _banner(settings: Settings, started: dict[str, str], url: str, admin: Any,
            app_settings: Any = None) -> str:
    data_dir = settings.data_dir.resolve()
    lines = [
        f"postlog is running at {url}",
        f"  API (listmonk-compatible): {url}/api",
        f"  admin user:     {admin.username}",
    ]
    if admin.password is not None:
        note = "generated now: note it, it is not shown again" if admin.generated else \
            "from POSTLOG_ADMIN_PASSWORD"
        lines.append(f"  admin password: {admin.password}   ({note})")
    else:
        lines.append("  admin password: unchanged (set POSTLOG_ADMIN_PASSWORD to replace it)")
    where = {
        "database_url": ("PostgreSQL", data_dir / "pg"),
        "nats_url": ("NATS", data_dir / "nats"),
    }
    for key, (name, path) in where.items():
        source = f"embedded, data in {path}" if key in started else "configured URL"
        lines.append(f"  {name + ':':15} {source}")
    if app_settings is not None:
        lines.extend(mail_lines(app_settings))
    lines.append("Stop with Ctrl-C.")
    return "\n".join(lines)


# listmonk's example servers, which a fresh install carries until someone sets real ones.
PLACEHOLDER_HOSTS = frozenset({"smtp.yoursite.com", "smtp.gmail.com"})


def mail_lines(app_settings: Any) -> list[str]:
    """Where mail goes, for the banner: the enabled SMTP servers and postback messengers, and
    a warning when none is a real server (listmonk's example host, or nothing enabled)."""
    servers = [s for s in app_settings.smtp if s.enabled]
    postbacks = [m for m in app_settings.messengers if m.enabled]
    lines = []
    for server in servers:
        tls = {"TLS": "TLS", "STARTTLS": "STARTTLS"}.get(server.tls_type, "no TLS")
        example = "   (listmonk's example host)" if server.host in PLACEHOLDER_HOSTS else ""
        lines.append(f"  {'mail (SMTP):':15} {server.host}:{server.port}, {tls}{example}")
    for postback in postbacks:
        lines.append(f"  {'mail (postback):':15} {postback.name} -> {postback.root_url}")
    if not servers and not postbacks:
        lines.append(f"  {'mail:':15} no SMTP server or messenger is enabled: campaigns cannot"
                     " start until one is (PUT /api/settings, `smtp`)")
    elif not postbacks and all(s.host in PLACEHOLDER_HOSTS for s in servers):
        lines.append(f"  {'mail:':15} not set up yet: sending fails until `smtp` names a real"
                     " server (PUT /api/settings; POST /api/settings/smtp/test checks it)")
    return lines


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

