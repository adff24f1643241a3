"""Campaign command handlers against the in-memory store and fake lookups: what they stage,
what they refuse, and their conflicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from events.base import Event
from events.campaigns import (
    CampaignArchiveChanged,
    CampaignCreated,
    CampaignDeleted,
    CampaignList,
    CampaignPaused,
    CampaignResumed,
    CampaignScheduled,
    CampaignStarted,
    CampaignUpdated,
)
from events.lists import ListCreated, ListDeleted
from events.messages import CampaignTestQueued, open_content
from events.store import ConcurrencyError, StreamAppend
from events.templates import TemplateCreated, TemplateDefaultSet
from kernel.errors import Conflict, InvalidInput, NotFound
from services.command_api.campaigns import handlers
from services.command_api.campaigns.binding import CampaignRequest
from services.command_api.campaigns.commands import (
    CANT_UPDATE,
    NOT_DUE,
    CampaignPatch,
    ChangeStatus,
    DeleteCampaign,
    ListRef,
    SetArchive,
    StartDue,
)
from services.command_api.campaigns.lookups import AudienceCount
from services.sender.templating.data import Subscriber
from tests.fake_store import InMemoryEventStore, race, run

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
SEND_AT = T0 + timedelta(days=1)
UUID = "57702beb-6fae-4355-a324-c2fd5b59a549"
FROM = "postlog <noreply@example.com>"
NOBODY = AudienceCount(0, 0)


@dataclass
class FakeLookups:
    """``CampaignLookups`` from fixed answers; remembers the audiences it was asked for."""

    default_template: int | None = None
    audience: AudienceCount | None = NOBODY
    taken_slugs: dict[str, int] = field(default_factory=dict)
    counted: list[tuple[list[ListRef], str]] = field(default_factory=list)

    async def default_template_id(self) -> int | None:
        return self.default_template

    async def count_audience(self, lists: Sequence[ListRef], campaign_type: str
                             ) -> AudienceCount | None:
        self.counted.append((list(lists), campaign_type))
        return self.audience

    async def slug_taken(self, slug: str, campaign_id: int) -> bool:
        return self.taken_slugs.get(slug, campaign_id) != campaign_id


def given(store: InMemoryEventStore, stream_id: str, *events: Event) -> None:
    store.append(StreamAppend(stream_id, len(store.events(stream_id)), list(events)))
    store.commit()


def with_lists_and_default_template(store: InMemoryEventStore) -> FakeLookups:
    """Lists 1 (double opt-in) and 2, and template 5 as the default."""
    given(store, "list-1", ListCreated(list_id=1, uuid="u-1", name="Weekly", list_type="public",
                                       optin="double", at=T0))
    given(store, "list-2", ListCreated(list_id=2, uuid="u-2", name="Staff", list_type="private",
                                       optin="single", at=T0))
    given(store, "template-5",
          TemplateCreated(template_id=5, name="Default", template_type="campaign",
                          body='<p>{{ template "content" . }}</p>', at=T0),
          TemplateDefaultSet(template_id=5, at=T0))
    return FakeLookups(default_template=5, audience=AudienceCount(42, 99))


def new_campaign(list_ids: tuple[int, ...] = (1, 2), send_at: datetime | None = None
                 ) -> handlers.NewCampaign:
    patch = CampaignPatch(name="Launch", subject="Hello", body="<p>Hi {{ .Subscriber.Name }}</p>",
                          send_at=send_at)
    return handlers.NewCampaign(request=CampaignRequest(patch=patch, list_ids=list_ids),
                                uuid=UUID, default_from_email=FROM, at=T0)


async def created(store: InMemoryEventStore, lookups: FakeLookups,
                  send_at: datetime | None = None) -> int:
    result = await run(store, partial(handlers.create_campaign, new_campaign(send_at=send_at),
                                      lookups=lookups))
    return int(result["campaign_id"])


def to(status: str, at: datetime = T1) -> ChangeStatus:
    return ChangeStatus(campaign_id=1, status=status, at=at)


async def test_create_takes_an_id_copies_the_lists_names_and_uses_the_default_template(
) -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    result = await run(store, partial(handlers.create_campaign, new_campaign((2, 1)),
                                      lookups=lookups))
    assert result == {"campaign_id": 1}
    assert await created(store, lookups) == 2
    [event] = store.events("campaign-1")
    assert isinstance(event, CampaignCreated)
    assert (event.uuid, event.campaign_type, event.at) == (UUID, "regular", T0)
    assert event.content.lists == [CampaignList(id=2, name="Staff"),
                                   CampaignList(id=1, name="Weekly")]
    assert event.content.template_id == 5
    assert event.content.from_email == FROM


async def test_a_default_template_its_stream_disowns_is_not_used() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    lookups.default_template = 6  # the log says 6, but there is no such template
    await created(store, lookups)
    [event] = store.events("campaign-1")
    assert isinstance(event, CampaignCreated) and event.content.template_id is None


async def test_an_invalid_create_takes_no_id_and_stages_nothing() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    for unknown in ((), (1, 7)):  # none, or one that does not exist
        with pytest.raises(InvalidInput, match="Invalid list IDs"):
            await handlers.create_campaign(new_campaign(unknown), store, lookups)
    with pytest.raises(InvalidInput, match="Template not found"):
        bad = new_campaign()
        request = CampaignRequest(patch=bad.request.patch, list_ids=(1,), template_id=9)
        await handlers.create_campaign(
            handlers.NewCampaign(request=request, uuid=UUID, default_from_email=FROM, at=T0),
            store, lookups)
    assert store.sequences == {} and store.staged == []


async def test_a_draft_is_updated_and_a_deleted_list_keeps_its_recorded_name() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    given(store, "list-2", ListDeleted(list_id=2, at=T1))
    edit = handlers.CampaignEdit(
        campaign_id=1, request=CampaignRequest(patch=CampaignPatch(subject="Hello again"),
                                               list_ids=(2,)),
        default_from_email=FROM, at=T1)
    assert await run(store, partial(handlers.update_campaign, edit, lookups=lookups)) == {
        "campaign_id": 1}
    updated = store.events("campaign-1")[-1]
    assert isinstance(updated, CampaignUpdated)
    assert updated.content.subject == "Hello again"
    assert updated.content.lists == [CampaignList(id=2, name="Staff")]
    assert store.streams["campaign-1"][-1].version == 2


async def test_a_running_campaign_is_not_updated() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    await run(store, partial(handlers.change_status, to("running"), lookups=lookups))
    edit = handlers.CampaignEdit(
        campaign_id=1, request=CampaignRequest(patch=CampaignPatch(subject="Too late"),
                                               list_ids=(1,)),
        default_from_email=FROM, at=T1)
    with pytest.raises(InvalidInput, match=CANT_UPDATE):
        await handlers.update_campaign(edit, store, lookups)
    assert store.staged == []
    with pytest.raises(NotFound):
        await handlers.update_campaign(
            handlers.CampaignEdit(campaign_id=9, request=edit.request,
                                  default_from_email=FROM, at=T1), store, lookups)


async def test_starting_records_the_audience_the_lookups_count() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    await run(store, partial(handlers.change_status, to("running"), lookups=lookups))
    started = store.events("campaign-1")[-1]
    assert isinstance(started, CampaignStarted)
    assert (started.list_ids, started.to_send, started.max_subscriber_id,
            started.template_id) == ([1, 2], 42, 99, 5)
    [(lists, campaign_type)] = lookups.counted
    assert [(ref.id, ref.optin) for ref in lists] == [(1, "double"), (2, "single")]
    assert campaign_type == "regular"


async def test_status_changes_go_through_the_state_machine() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    for status in ("running", "paused", "running"):
        await run(store, partial(handlers.change_status, to(status), lookups=lookups))
    assert [type(e) for e in store.events("campaign-1")] == [
        CampaignCreated, CampaignStarted, CampaignPaused, CampaignResumed]
    assert len(lookups.counted) == 2  # counted for each start, not for the pause
    with pytest.raises(InvalidInput, match="Only paused campaigns and drafts can be started"):
        await handlers.change_status(to("running"), store, lookups)


async def test_without_subscriber_read_models_a_start_records_no_audience() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    lookups.audience = None
    await run(store, partial(handlers.change_status, to("running"), lookups=lookups))
    started = store.events("campaign-1")[-1]
    assert isinstance(started, CampaignStarted)
    assert (started.list_ids, started.to_send, started.max_subscriber_id) == ([1, 2], 0, 0)


async def test_two_commands_decided_on_the_same_version_conflict() -> None:
    """Both load version 2; the first to commit wins, the second's append is refused (the
    executor then runs it again on the new version)."""
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    await run(store, partial(handlers.change_status, to("running"), lookups=lookups))
    with pytest.raises(ConcurrencyError):
        await race(store, partial(handlers.change_status, to("paused"), lookups=lookups),
                   partial(handlers.delete_campaigns, [1], T1))
    assert [type(e) for e in store.events("campaign-1")] == [
        CampaignCreated, CampaignStarted, CampaignPaused]


async def test_deleting_many_skips_campaigns_that_do_not_exist() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    await created(store, lookups)
    await run(store, partial(handlers.delete_campaigns, [2], T1))
    result = await run(store, partial(handlers.delete_campaigns, [9, 1, 2, 1], T1))
    assert result == {"deleted": ["campaign-1"]}
    assert store.events("campaign-1")[-1] == CampaignDeleted(campaign_id=1, at=T1)


async def test_deleting_one_that_does_not_exist_is_not_found() -> None:
    store = InMemoryEventStore()
    with pytest.raises(NotFound):
        await handlers.delete_campaign(DeleteCampaign(campaign_id=3, at=T1), store)


async def test_an_archive_slug_used_by_another_campaign_is_refused() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    lookups.taken_slugs["launch"] = 2
    with pytest.raises(Conflict):
        await handlers.set_archive(
            SetArchive(campaign_id=1, archive=True, archive_slug="launch", at=T1), store, lookups)
    lookups.taken_slugs["launch"] = 1  # its own slug
    await run(store, partial(handlers.set_archive, SetArchive(
        campaign_id=1, archive=True, archive_slug="launch", at=T1), lookups=lookups))
    changed = store.events("campaign-1")[-1]
    assert isinstance(changed, CampaignArchiveChanged) and changed.archive_slug == "launch"


async def test_the_scheduler_starts_a_due_campaign_with_its_audience() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups, send_at=SEND_AT)
    await run(store, partial(handlers.change_status, to("scheduled"), lookups=lookups))
    due = SEND_AT + timedelta(minutes=1)
    await run(store, partial(handlers.start_due, StartDue(campaign_id=1, at=due),
                             lookups=lookups))
    started = store.events("campaign-1")[-1]
    assert isinstance(started, CampaignStarted)
    assert (started.to_send, started.max_subscriber_id, started.at) == (42, 99, due)


async def test_the_scheduler_leaves_a_campaign_that_is_not_due_yet() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups, send_at=SEND_AT)
    await run(store, partial(handlers.change_status, to("scheduled"), lookups=lookups))
    with pytest.raises(Conflict, match=NOT_DUE):
        await handlers.start_due(StartDue(campaign_id=1, at=SEND_AT - timedelta(minutes=1)),
                                 store, lookups)
    assert store.staged == []
    assert isinstance(store.events("campaign-1")[-1], CampaignScheduled)


def subscriber(subscriber_id: int, email: str) -> Subscriber:
    return Subscriber(ID=subscriber_id, UUID=f"s-{subscriber_id}", Email=email, Name="Ann Lee",
                      Attribs={}, Status="enabled", Lists=[], CreatedAt=T0, UpdatedAt=T0)


async def test_a_test_send_queues_one_sealed_message_per_subscriber_with_a_key() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    await store.data_key(11, create=True)  # subscriber 12 has none: erased
    test = handlers.CampaignTest(
        campaign_id=1, request=CampaignRequest(patch=CampaignPatch(subject="Test subject")),
        emails=("ann@example.com", "bob@example.com"),
        subscribers=(subscriber(11, "ann@example.com"), subscriber(12, "bob@example.com")),
        default_from_email=FROM, root_url="http://localhost:9000", at=T1)
    result = await run(store, partial(handlers.send_test, test, lookups=lookups))
    assert result["queued"] == 1
    [message] = [e for r in store.log if isinstance(e := r.decode(), CampaignTestQueued)]
    assert (message.campaign_id, message.subscriber_id, message.template_id) == (1, 11, 5)
    content = open_content(store.keys[11], message.content, message.message_id, 11)
    assert content is not None
    assert content.subject == "Test subject"
    assert "<p><p>Hi Ann Lee</p></p>" in content.body
    assert [type(e) for e in store.events("campaign-1")] == [CampaignCreated]  # unchanged


async def test_a_test_send_needs_known_subscribers() -> None:
    store = InMemoryEventStore()
    lookups = with_lists_and_default_template(store)
    await created(store, lookups)
    test = handlers.CampaignTest(
        campaign_id=1, request=CampaignRequest(patch=CampaignPatch()), emails=("x@y.z",),
        subscribers=(), default_from_email=FROM, root_url="http://localhost:9000", at=T1)
    with pytest.raises(InvalidInput, match=handlers.NO_KNOWN_SUBSCRIBERS):
        await handlers.send_test(test, store, lookups)
    assert store.staged == []
