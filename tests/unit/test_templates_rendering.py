"""Template request bodies, compile checks and previews (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kernel.errors import DomainError, InvalidInput
from services.command_api.templates.binding import (
    TemplateFields,
    fields_from_form,
    fields_from_json,
)
from services.command_api.templates.seed import SEEDS, seed_events
from services.sender.templating.previews import check_compiles, preview

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ROOT = "https://news.example.com"
LAYOUT = '<main>{{ template "content" . }}</main>'
ZERO = "00000000-0000-0000-0000-000000000000"


def test_json_binds_known_fields_case_insensitively() -> None:
    body = b'{"Name": "A", "type": "tx", "subject": "S", "body": "b", "body_source": null,' \
           b' "id": 9, "is_default": true}'
    assert fields_from_json(body) == TemplateFields(name="A", type="tx", subject="S", body="b")


@pytest.mark.parametrize(("body", "message"), [
    (b'{"name": ', "Syntax error"),
    (b'{"name": 5}', "Unmarshal type error: expected=string, got=number, field=name"),
    (b'{"body": ["x"]}', "Unmarshal type error: expected=string, got=array, field=body"),
    (b"[1]", "Unmarshal type error: expected=object, got=array"),
])
def test_json_syntax_and_type_errors_are_invalid_input(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        fields_from_json(body)
    assert refused.value.message.startswith(message)


def test_form_binds_the_first_value() -> None:
    assert fields_from_form({"NAME": ["n", "m"], "type": ["campaign"], "body": [LAYOUT]}) == (
        TemplateFields(name="n", type="campaign", body=LAYOUT))


@pytest.mark.parametrize(("fields", "message"), [
    (TemplateFields(type="campaign", body=LAYOUT), "Invalid length for name."),
    (TemplateFields(name="n", type="newsletter", body=LAYOUT), "Invalid template type"),
    (TemplateFields(name="n", body=LAYOUT), "Invalid template type"),
    (TemplateFields(name="n", type="campaign", body="<p/>"), "The placeholder"),
    (TemplateFields(name="n", type="tx", body="b"), "Missing field(s): subject"),
])
def test_create_fields_are_checked_like_listmonk(fields: TemplateFields, message: str) -> None:
    with pytest.raises(DomainError) as refused:
        fields.to_create(1, T0)
    assert refused.value.message.startswith(message)


def test_every_seed_compiles_and_the_first_is_the_default() -> None:
    events = [seed_events(seed, n, T0) for n, seed in enumerate(SEEDS, start=1)]
    assert [e.event_type for e in events[0]] == ["template.created", "template.default_set"]
    assert all([e.event_type for e in rest] == ["template.created"] for rest in events[1:])
    assert {seed.template_type for seed in SEEDS} >= {"campaign", "tx"}


def test_default_campaign_template_preview_has_content_unsubscribe_and_pixel() -> None:
    seed = SEEDS[0]
    html = preview(seed.template_type, seed.body(), "", ROOT)
    assert "<title>Dummy campaign subject</title>" in html
    assert "Hello there" in html  # the sample content inside the layout
    assert f'href="{ROOT}/subscription/{ZERO}/{ZERO}"' in html
    assert f'src="{ROOT}/campaign/{ZERO}/{ZERO}/px.png"' in html


def test_tx_preview_renders_the_dummy_subscriber() -> None:
    body = "<p>{{ .Subscriber.FirstName }} {{ .Subscriber.LastName }} from" \
           " {{ .Subscriber.Attribs.city }}: {{ .Tx.Subject }} {{ L.T \"email.unsub\" }}</p>"
    assert preview("tx", body, "Hi", ROOT) == (
        "<p>Demo Subscriber from Bengaluru: Hi Unsubscribe</p>")


def test_sprig_functions_are_available() -> None:
    assert preview("tx", '{{ .Subscriber.Name | upper }} {{ "a,b" | splitList "," | join "-" }}',
                   "", ROOT) == "DEMO SUBSCRIBER a-b"


def test_preview_escapes_like_html_template() -> None:
    assert preview("tx", '{{ "<b>" }}{{ Safe "<i>" }}', "", ROOT) == "&lt;b&gt;<i>"


def test_shorthands_are_expanded_in_previews() -> None:
    html = preview("campaign", LAYOUT + '<a href="{{ TrackLink "https://a.b" }}">x</a>'
                   "{{ TrackView }}", "", ROOT)
    assert f'<a href="{ROOT}/link/' in html and f'/{ZERO}/{ZERO}">x</a>' in html
    assert f"{ROOT}/campaign/{ZERO}/{ZERO}/px.png" in html


def test_compile_errors_name_the_line_and_problem() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_compiles("campaign", LAYOUT + "\n\n{{ end }}", "")
    assert refused.value.message == (
        "error compiling transactional template: template: base:3: unexpected {{end}}")


def test_preview_errors_are_400s_in_listmonks_words() -> None:
    with pytest.raises(InvalidInput) as compiling:
        preview("campaign", LAYOUT + "{{ nofunc }}", "", ROOT)
    assert compiling.value.status_code == 400
    assert compiling.value.message.startswith(
        "Error compiling template: error compiling base template: template: base:1:")
    with pytest.raises(InvalidInput) as rendering:
        preview("campaign", LAYOUT + "{{ .Campaign.Nope }}", "", ROOT)
    assert rendering.value.message.startswith("Error rendering message: template: base:1:")
