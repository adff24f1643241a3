"""``postlog serve sender`` (and the sender inside ``postlog up``): the engine and its feed.

By default the sender sends through the messengers the live settings enable
(``services/sender/messengers/registry.py``, rebuilt when the settings change) at the rates the
live settings give. The composition root (``postlog.supervisor``) hands it what it must not
build itself: the campaign commands it runs to finish or pause a campaign (the command API's
handlers, as the scheduler is given its start). Tests pass their own messengers and settings.

Beside the campaign engine runs the ``MessageRunner`` (``messages_run.py``): transactional,
campaign test, opt-in and notification mail. Both share one ``PriorityGate``: the engine sends
through ``GatedMessengers``, so a campaign message waits while a single message is under way
on the same transport (``services/sender/messengers/priority.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from events.crypto import master_key_from
from services.live_settings import LiveSettings
from services.runtime import Runtime
from services.sender.campaign_listener import campaign_listener
from services.sender.campaign_run import FinishCampaign, MessengerSource, PauseCampaign
from services.sender.config import SenderTuning, SettingsSource
from services.sender.engine import STOP_SECONDS, SenderEngine
from services.sender.messages_run import MessageRunner, MessageTuning
from services.sender.messengers.base import Messenger
from services.sender.messengers.priority import PriorityGate
from services.sender.messengers.registry import Messengers


class RegisteredMessengers:
    """``MessengerSource`` over the messenger registry."""

    def __init__(self, registry: Messengers) -> None:
        self.registry = registry

    def messenger(self, name: str) -> Messenger | None:
        return self.registry.get(name) if name in self.registry else None


class GatedMessengers:
    """``MessengerSource`` for campaign sends: each messenger behind the priority gate."""

    def __init__(self, source: MessengerSource, gate: PriorityGate) -> None:
        self.source = source
        self.gate = gate

    def messenger(self, name: str) -> Messenger | None:
        found = self.source.messenger(name)
        return None if found is None else self.gate.bulk(found)


@asynccontextmanager
async def live_messengers(live: LiveSettings) -> AsyncIterator[RegisteredMessengers]:
    """The messengers of the live settings, rebuilt at each change, closed at the end."""
    registry = Messengers()
    registry.apply_settings(await live.get())
    live.on_change(registry.apply_settings)
    try:
        yield RegisteredMessengers(registry)
    finally:
        live.off_change(registry.apply_settings)
        await registry.close()


def tuning_of(runtime: Runtime) -> SenderTuning:
    """The sender's tuning from the process settings (``POSTLOG_SENDER_*``)."""
    return SenderTuning(lease_seconds=runtime.settings.sender_lease_seconds)


@asynccontextmanager
async def sender_service(runtime: Runtime, *, finish: FinishCampaign, pause: PauseCampaign,
                         settings: SettingsSource | None = None,
                         messengers: MessengerSource | None = None,
                         tuning: SenderTuning | None = None, listen: bool = True,
                         messages: MessageTuning | None = None
                         ) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run the sender (campaigns and single messages; with ``listen`` and NATS configured,
    its NATS feed) until the block exits; yields the tasks to supervise."""
    async with AsyncExitStack() as stack:
        if messengers is None:
            messengers = await stack.enter_async_context(live_messengers(runtime.live_settings))
        if settings is None:
            await runtime.live_settings.get()
            settings = runtime.live_settings.current
        gate = PriorityGate()
        master_key = master_key_from(runtime.settings.master_key)
        engine = SenderEngine(runtime.pool, settings=settings,
                              messengers=GatedMessengers(messengers, gate),
                              finish=finish, pause=pause, tuning=tuning or tuning_of(runtime),
                              master_key=master_key)
        runner = MessageRunner(runtime.pool, holder=engine.holder, settings=settings,
                               messengers=messengers, gate=gate, master_key=master_key,
                               tuning=messages or MessageTuning(
                                   lease_seconds=runtime.settings.sender_lease_seconds))
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run(stop), name="sender")
        singles = asyncio.create_task(runner.run(stop), name="sender-messages")

        async def heard(campaign_id: int, event_type: str) -> None:
            await engine.on_campaign_event(campaign_id, event_type)

        try:
            if listen and runtime.settings.nats_url:
                async with campaign_listener(runtime.settings, heard) as feed:
                    yield [task, singles, *feed]
            else:
                yield [task, singles]
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(asyncio.gather(task, singles)),
                                       STOP_SECONDS + 5)
