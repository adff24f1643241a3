"""The template decider, given/when/then: events in, command, events (or a refusal) out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.base import Event
from events.templates import (
    TemplateCreated,
    TemplateDefaultSet,
    TemplateDefaultUnset,
    TemplateDeleted,
    TemplateUpdated,
)
from kernel.errors import Conflict, DomainError, InvalidInput, NotFound
from services.command_api.templates.commands import (
    CreateTemplate,
    DeleteTemplate,
    MakeDefault,
    UnsetDefault,
    UpdateTemplate,
)
from services.command_api.templates.decider import Absent, Active, Deleted, template_decider
from tests.unit.given_when_then import when_deciding

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
LAYOUT = '<html><body>{{ template "content" . }}</body></html>'

CAMPAIGN = TemplateCreated(template_id=4, name="Newsletter", template_type="campaign",
                           body=LAYOUT, at=T0)
TX = TemplateCreated(template_id=5, name="Receipt", template_type="tx",
                     subject="Order {{ .Tx.Data.id }}", body="<p>{{ .Subscriber.Name }}</p>",
                     at=T0)
MADE_DEFAULT = TemplateDefaultSet(template_id=4, previous_template_id=1, at=T1)


when = when_deciding(template_decider)


def test_create_records_the_template() -> None:
    command = CreateTemplate(template_id=4, name="Newsletter", template_type="campaign",
                             body=LAYOUT, at=T0)
    assert when([], command) == [CAMPAIGN]


def test_create_drops_the_subject_of_a_campaign_template() -> None:
    [event] = when([], CreateTemplate(template_id=4, name="n", template_type="campaign",
                                      subject="ignored", body=LAYOUT, at=T0))
    assert isinstance(event, TemplateCreated) and event.subject == ""


def test_create_keeps_a_visual_templates_source() -> None:
    [event] = when([], CreateTemplate(template_id=6, name="v", template_type="campaign_visual",
                                      body="<p>built</p>", body_source='{"blocks": []}', at=T0))
    assert isinstance(event, TemplateCreated) and event.body_source == '{"blocks": []}'


def test_create_twice_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        when([CAMPAIGN], CreateTemplate(template_id=4, name="again", template_type="campaign",
                                        body=LAYOUT, at=T1))


@pytest.mark.parametrize(("command", "message"), [
    (CreateTemplate(template_id=1, name="", template_type="campaign", body=LAYOUT, at=T0),
     "Invalid length for name."),
    (CreateTemplate(template_id=1, name="x" * 2001, template_type="tx", subject="s", body="b",
                    at=T0), "Invalid length for name."),
    (CreateTemplate(template_id=1, name="n", template_type="campaign", body="<p>no tag</p>",
                    at=T0),
     'The placeholder {{ template "content" . }} should appear exactly once in the template.'),
    (CreateTemplate(template_id=1, name="n", template_type="tx", subject="  ", body="b", at=T0),
     "Missing field(s): subject"),
    (CreateTemplate(template_id=1, name="n", template_type="campaign",
                    body=LAYOUT + "\n{{ if }}", at=T0),
     "error compiling transactional template: template: base:2: missing value for if"),
    (CreateTemplate(template_id=1, name="n", template_type="tx", subject="s",
                    body="{{ UnsubscribeURL }}", at=T0),
     'error compiling transactional template: template: base:1: function "UnsubscribeURL"'),
    (CreateTemplate(template_id=1, name="n", template_type="tx", subject="Hi {{ .X ) }}",
                    body="b", at=T0), "error compiling subject: template: base:1:"),
])
def test_create_refuses_what_listmonk_refuses(command: CreateTemplate, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        when([], command)
    assert refused.value.message.startswith(message)


def test_placeholder_may_be_spaced_freely() -> None:
    body = '<div>{{template   "content"   .}}</div>'
    assert when([], CreateTemplate(template_id=1, name="n", template_type="campaign",
                                   body=body, at=T0))


def test_update_replaces_the_name_and_keeps_what_was_sent_empty() -> None:
    assert when([TX], UpdateTemplate(template_id=5, name="Renamed", at=T1)) == [TemplateUpdated(
        template_id=5, name="Renamed", subject=TX.subject, body=TX.body, at=T1)]


def test_update_checks_the_result_against_the_stored_type() -> None:
    with pytest.raises(InvalidInput, match="placeholder"):
        when([CAMPAIGN], UpdateTemplate(template_id=4, name="n", body="<p>no tag</p>", at=T1))
    with pytest.raises(InvalidInput, match="not defined"):
        when([TX], UpdateTemplate(template_id=5, name="n", body="{{ TrackView }}", at=T1))
    [event] = when([CAMPAIGN], UpdateTemplate(template_id=4, name="n", subject="dropped",
                                              body=LAYOUT + "{{ TrackView }}", at=T1))
    assert isinstance(event, TemplateUpdated) and event.subject == ""


@pytest.mark.parametrize("given", [[], [CAMPAIGN, TemplateDeleted(template_id=4, at=T1)]])
def test_update_of_an_absent_or_deleted_template_is_not_found(given: list[Event]) -> None:
    with pytest.raises(NotFound, match="Template not found"):
        when(given, UpdateTemplate(template_id=4, name="x", at=T1))


def test_make_default_records_the_previous_default() -> None:
    assert when([CAMPAIGN], MakeDefault(template_id=4, previous_template_id=1, at=T1)) == [
        MADE_DEFAULT]


def test_make_default_of_the_default_records_nothing() -> None:
    assert when([CAMPAIGN, MADE_DEFAULT], MakeDefault(template_id=4, at=T1)) == []


@pytest.mark.parametrize("kind", ["tx", "campaign_visual"])
def test_only_campaign_templates_can_be_the_default(kind: str) -> None:
    created = TemplateCreated(template_id=5, name="x", template_type=kind,  # type: ignore[arg-type]
                              subject="s", body="b", at=T0)
    with pytest.raises(InvalidInput, match="Only campaign templates"):
        when([created], MakeDefault(template_id=5, at=T1))


def test_make_default_of_a_missing_template_is_not_found() -> None:
    with pytest.raises(NotFound):
        when([], MakeDefault(template_id=4, at=T1))


def test_unset_default_gives_way_to_the_new_default() -> None:
    assert when([CAMPAIGN, MADE_DEFAULT], UnsetDefault(template_id=4, new_default_template_id=9,
                                                       at=T1)) == [
        TemplateDefaultUnset(template_id=4, new_default_template_id=9, at=T1)]
    assert when([CAMPAIGN], UnsetDefault(template_id=4, new_default_template_id=9, at=T1)) == []


def test_delete_records_the_default_campaigns_switch_to() -> None:
    assert when([CAMPAIGN], DeleteTemplate(template_id=4, default_template_id=1, at=T1)) == [
        TemplateDeleted(template_id=4, default_template_id=1, at=T1)]


@pytest.mark.parametrize("given", [
    [],  # never existed
    [CAMPAIGN, TemplateDeleted(template_id=4, at=T1)],  # already gone
    [CAMPAIGN, MADE_DEFAULT],  # the default
])
def test_delete_refuses_a_missing_or_default_template(given: list[Event]) -> None:
    with pytest.raises(InvalidInput, match="Cannot delete non-existent or default template"):
        when(given, DeleteTemplate(template_id=4, at=T1))


def test_a_former_default_can_be_deleted() -> None:
    unset = TemplateDefaultUnset(template_id=4, new_default_template_id=9, at=T1)
    assert when([CAMPAIGN, MADE_DEFAULT, unset], DeleteTemplate(template_id=4, at=T1))


def test_evolve_walks_absent_active_default_deleted() -> None:
    assert template_decider.fold([]) == Absent()
    state = template_decider.fold([CAMPAIGN, MADE_DEFAULT])
    assert isinstance(state, Active) and state.is_default
    assert template_decider.fold([CAMPAIGN, TemplateDeleted(template_id=4, at=T1)]) == Deleted()


def test_refusals_are_domain_errors_with_http_statuses() -> None:
    with pytest.raises(DomainError) as refused:
        when([], DeleteTemplate(template_id=4, at=T1))
    assert refused.value.status_code == 400
