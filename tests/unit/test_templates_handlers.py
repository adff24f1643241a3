"""Template command handlers against the in-memory store and a ``TemplateLog`` over its log:
what they stage, where the default goes, and their conflicts."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest

from events.store import ConcurrencyError, derive_event_ids
from events.templates import (
    TemplateCreated,
    TemplateDefaultSet,
    TemplateDefaultUnset,
    TemplateDeleted,
    TemplateUpdated,
)
from kernel.errors import InvalidInput
from services.command_api.templates import handlers
from services.command_api.templates.binding import TemplateFields
from services.command_api.templates.commands import CANNOT_DELETE
from services.command_api.templates.seed import SEED_KEY, SEEDS, seed_events
from services.command_api.templates.template_log import FIRST_DEFAULT, SEEDING
from tests.fake_store import InMemoryEventStore, race, run

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 2, tzinfo=UTC)
LAYOUT = '<html><body>{{ template "content" . }}</body></html>'


class CommittedTemplateLog:
    """``TemplateLog`` over what the in-memory store has committed, as PostgreSQL's reads the
    committed log; ``serialised`` lists the turns taken."""

    def __init__(self, store: InMemoryEventStore) -> None:
        self.store = store
        self.serialised: list[str] = []

    async def last_default(self) -> int | None:
        for recorded in reversed(self.store.log):
            if recorded.type == "template.default_set":
                return int(recorded.data["template_id"])
        return None

    async def any_recorded(self) -> bool:
        return any(r.category == "template" for r in self.store.log)

    async def serialise(self, name: str) -> None:
        self.serialised.append(name)


class StaleTemplateLog(CommittedTemplateLog):
    """A log read that names a default its stream no longer agrees with."""

    def __init__(self, store: InMemoryEventStore, default: int) -> None:
        super().__init__(store)
        self.default = default

    async def last_default(self) -> int | None:
        return self.default


def fields(name: str = "Newsletter", **more: str) -> TemplateFields:
    return TemplateFields(name=name, type=more.pop("type", "campaign"),
                          body=more.pop("body", LAYOUT), **more)


async def create(store: InMemoryEventStore, name: str = "Newsletter") -> int:
    result = await run(store, partial(handlers.create_template,
                                      handlers.NewTemplate(fields(name), T0)))
    return int(result["template_id"])


async def make_default(store: InMemoryEventStore, template_id: int) -> None:
    await run(store, partial(handlers.set_default_template, template_id, T1,
                             templates=CommittedTemplateLog(store)))


async def test_create_takes_an_id_from_the_sequence_and_records_the_template() -> None:
    store = InMemoryEventStore()
    assert await create(store) == 1
    assert await create(store, "Other") == 2
    assert store.events("template-1") == [TemplateCreated(
        template_id=1, name="Newsletter", template_type="campaign", subject="", body=LAYOUT,
        at=T0)]


async def test_an_invalid_template_takes_no_id_and_stages_nothing() -> None:
    store = InMemoryEventStore()
    with pytest.raises(InvalidInput):
        await handlers.create_template(handlers.NewTemplate(fields(body="<p>no content</p>"),
                                                            T0), store)
    assert store.sequences == {} and store.staged == []


async def test_update_decides_on_the_current_version() -> None:
    store = InMemoryEventStore()
    await create(store)
    edit = fields("Renamed").to_update(1, T1)
    assert await run(store, partial(handlers.update_template, edit)) == {"template_id": 1}
    assert isinstance(store.events("template-1")[-1], TemplateUpdated)


async def test_the_first_default_takes_its_turn_and_names_no_previous_one() -> None:
    store = InMemoryEventStore()
    await create(store)
    log = CommittedTemplateLog(store)
    await run(store, partial(handlers.set_default_template, 1, T1, templates=log))
    assert log.serialised == [FIRST_DEFAULT]
    assert store.events("template-1")[-1] == TemplateDefaultSet(
        template_id=1, previous_template_id=None, at=T1)


async def test_setting_the_default_moves_it_between_two_streams_in_one_command() -> None:
    store = InMemoryEventStore()
    old, new = await create(store), await create(store, "New")
    await make_default(store, old)
    await handlers.set_default_template(new, T1, store, CommittedTemplateLog(store))
    # One command, both streams; the old default gives way first, so no reader ever sees two.
    assert [(a.stream_id, a.expected_version, a.events) for a in store.staged] == [
        ("template-1", 2, [TemplateDefaultUnset(template_id=1, new_default_template_id=2,
                                                at=T1)]),
        ("template-2", 1, [TemplateDefaultSet(template_id=2, previous_template_id=1, at=T1)]),
    ]
    store.commit()
    assert await CommittedTemplateLog(store).last_default() == new


async def test_setting_the_current_default_again_changes_nothing() -> None:
    store = InMemoryEventStore()
    await create(store)
    await make_default(store, 1)
    await handlers.set_default_template(1, T1, store, CommittedTemplateLog(store))
    assert store.staged == []


async def test_the_default_cannot_be_deleted_and_another_records_it() -> None:
    store = InMemoryEventStore()
    default, other = await create(store), await create(store, "Other")
    await make_default(store, default)
    with pytest.raises(InvalidInput, match=CANNOT_DELETE):
        await handlers.delete_template(default, T1, store, CommittedTemplateLog(store))
    assert store.staged == []
    await run(store, partial(handlers.delete_template, other, T1,
                             templates=CommittedTemplateLog(store)))
    assert store.events("template-2")[-1] == TemplateDeleted(
        template_id=2, default_template_id=1, at=T1)


async def test_two_default_changes_decided_on_the_same_versions_conflict() -> None:
    """Both read template 1 as the default and unset it at the same version; the first to
    commit wins, the second's appends are refused, and running it again (as the executor
    does) moves the default from the winner."""
    store = InMemoryEventStore()
    for name in ("Old", "B", "C"):
        await create(store, name)
    await make_default(store, 1)
    log = CommittedTemplateLog(store)
    with pytest.raises(ConcurrencyError):
        await race(store, partial(handlers.set_default_template, 2, T1, templates=log),
                   partial(handlers.set_default_template, 3, T1, templates=log))
    assert [type(e) for e in store.events("template-3")] == [TemplateCreated]
    await run(store, partial(handlers.set_default_template, 3, T1,
                             templates=CommittedTemplateLog(store)))
    assert isinstance(store.events("template-2")[-1], TemplateDefaultUnset)
    assert await CommittedTemplateLog(store).last_default() == 3


async def test_a_default_its_stream_contradicts_is_a_conflict_to_run_again() -> None:
    store = InMemoryEventStore()
    await create(store)
    with pytest.raises(ConcurrencyError):
        await handlers.delete_template(1, T1, store, StaleTemplateLog(store, default=1))


async def test_the_first_templates_are_recorded_once_with_fixed_event_ids() -> None:
    store = InMemoryEventStore()
    first = handlers.FirstTemplates([partial(seed_events, s, at=T0) for s in SEEDS], SEED_KEY)
    log = CommittedTemplateLog(store)
    result = await run(store, partial(handlers.record_first_templates, first, templates=log))
    assert result == {"seeded": ["template-1", "template-2", "template-3"]}
    assert [r.event_id for r in store.log] == derive_event_ids(SEED_KEY, 4)
    assert await log.last_default() == 1
    assert await run(store, partial(handlers.record_first_templates, first, templates=log)) == {}
    assert len(store.log) == 4 and log.serialised == [SEEDING, SEEDING]
