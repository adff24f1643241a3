"""Whether a campaign's messenger is enabled, asked of the live settings when it starts.

A campaign started with no enabled messenger would stay ``running`` and send nothing; the start
is refused instead (400, naming the messenger). The names are listmonk's: ``email`` while any
SMTP server is enabled, ``email-<name>`` for each enabled named server, and each enabled
postback messenger's name (``services/sender/messengers/registry.py`` builds the same set).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

import psycopg

from events.settings import AppSettings
from services.command_api.store import PortFactory
from services.live_settings import LiveSettings
from services.sender.messengers.registry import EMAIL, messenger_name


class MessengerAvailability(Protocol):
    """The messengers a campaign may be started with now."""

    async def enabled_messengers(self) -> Collection[str]: ...


def enabled_messengers(settings: AppSettings) -> list[str]:
    """The names of the messengers ``settings`` enable, ``email`` first."""
    servers = [server for server in settings.smtp if server.enabled]
    names = [EMAIL] if servers else []
    names += [name for name in map(messenger_name, servers) if name]
    names += [m.name for m in settings.messengers if m.enabled and m.name]
    return list(dict.fromkeys(names))


class LiveMessengers:
    """``MessengerAvailability`` from the process's live settings."""

    def __init__(self, live: LiveSettings) -> None:
        self.live = live

    async def enabled_messengers(self) -> Collection[str]:
        return enabled_messengers(await self.live.get())


def messengers_port(live: LiveSettings) -> PortFactory:
    """The port ``messengers`` (by parameter name) for a command that may start a campaign."""

    def make(conn: psycopg.AsyncConnection[Any], master_key: bytes | None) -> LiveMessengers:
        return LiveMessengers(live)

    return make
