"""Campaign and transactional messages built as e-mails, read back with the email package."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from events.campaigns import CampaignContent
from events.crypto import DecryptionError, new_data_key
from events.message_storage import AttachmentFile
from events.messages import MessageContent, open_content, seal_content
from gotemplate import TemplateError
from services.sender.message import build_mime, campaign_mail, canonical_header
from services.sender.rendering import CompiledCampaign, compile_campaign
from services.sender.templating import campaign_funcs
from services.sender.templating.data import Campaign, CampaignMessage, Subscriber

ROOT = "https://lists.example.com"
CAMPAIGN_UUID = "6b9f3bb8-8a5b-4a43-9a3b-2a3c1f0c1d01"
SUBSCRIBER_UUID = "0f6c1c64-7b4e-4a55-9a4e-5c0b1b3b2a02"
TEMPLATE = ('<html><body><div class="wrap">{{ template "content" . }}</div>'
            '<a href="{{ UnsubscribeURL }}">Unsubscribe</a></body></html>')
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _compile(**fields: Any) -> CompiledCampaign:
    values: dict[str, Any] = {
        "name": "March news", "subject": "News for {{ .Subscriber.FirstName }}",
        "from_email": "Lists <news@example.com>",
        "body": "<p>Hello {{ .Subscriber.Name }} from {{ .Subscriber.Attribs.city }}</p>"
                '<p><a href="https://example.com/a@TrackLink">read</a></p>'}
    values.update(fields)
    template = values.pop("template", TEMPLATE)
    return compile_campaign(CampaignContent(**values), campaign_uuid=CAMPAIGN_UUID,
                            template_body=template,
                            funcs=campaign_funcs(root_url=ROOT, campaign_uuid=CAMPAIGN_UUID),
                            root_url=ROOT)


def _message(**subscriber: Any) -> CampaignMessage:
    fields: dict[str, Any] = {"UUID": SUBSCRIBER_UUID, "Email": "ana@example.org",
                              "Name": "Ana Lima", "Attribs": {"city": "Porto"}}
    fields.update(subscriber)
    return CampaignMessage(Campaign=Campaign(UUID=CAMPAIGN_UUID, Name="March news"),
                           Subscriber=Subscriber(**fields))


def _parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _parts(message: EmailMessage) -> list[Any]:
    """The direct sub-parts of a multipart message."""
    return list(message.iter_parts())


def _text(part: Any) -> str:
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_a_campaign_message_without_altbody_has_listmonks_headers_and_html_alone() -> None:
    mail = campaign_mail(_compile(), _message(), message_id="m-1", date=WHEN)
    raw = mail.as_bytes()
    parsed = _parse(raw)

    assert b"\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n", b"")
    assert parsed["From"] == "Lists <news@example.com>"
    assert parsed["To"] == "ana@example.org"
    assert parsed["Subject"] == "News for Ana"
    assert parsed["Message-Id"] == "<m-1@example.com>"
    assert parsed["Date"] == "Wed, 04 Mar 2026 05:06:07 +0000"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["X-Listmonk-Campaign"] == CAMPAIGN_UUID
    assert parsed["X-Listmonk-Subscriber"] == SUBSCRIBER_UUID
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = f"{ROOT}/subscription/{CAMPAIGN_UUID}/{SUBSCRIBER_UUID}"
    assert parsed["List-Unsubscribe"] == f"<{unsubscribe}>"

    # listmonk sends an HTML campaign without an altbody as one text/html part: no text
    # alternative is derived from the HTML.
    assert parsed.get_content_type() == "text/html"
    assert not parsed.is_multipart()
    assert parsed.get_content_charset() == "utf-8"
    assert "<p>Hello Ana Lima from Porto</p>" in _text(parsed)
    assert f'href="{unsubscribe}"' in _text(parsed)
    assert f"{ROOT}/link/" in _text(parsed)
    assert mail.envelope_from == "news@example.com"
    assert mail.recipients == ["ana@example.org"]


def test_a_campaign_with_an_altbody_is_multipart_alternative_text_first() -> None:
    compiled = _compile(altbody="Hi {{ .Subscriber.FirstName }}, read it online.")
    parsed = _parse(campaign_mail(compiled, _message()).as_bytes())
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = _parts(parsed)
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text["MIME-Version"] is None and html["MIME-Version"] is None
    assert _text(text).strip() == "Hi Ana, read it online."  # the altbody is a template
    assert "<p>Hello Ana Lima from Porto</p>" in _text(html)


def test_a_plain_campaign_is_a_single_text_part_and_ignores_the_altbody() -> None:
    compiled = _compile(content_type="plain", body="Hello {{ .Subscriber.Name }}",
                        altbody="ignored", template="")
    parsed = _parse(campaign_mail(compiled, _message()).as_bytes())
    assert parsed.get_content_type() == "text/plain"
    assert _text(parsed).strip() == "Hello Ana Lima"


def test_header_values_are_templates_and_the_first_value_of_a_name_wins() -> None:
    compiled = _compile(headers=[{"x-city": "{{ .Subscriber.Attribs.city }}"},
                                 {"X-Listmonk-Campaign": "spoofed"},
                                 {"X-City": "second"}])
    parsed = _parse(campaign_mail(compiled, _message()).as_bytes())
    assert parsed.get_all("X-City") == ["Porto"]
    assert parsed.get_all("X-Listmonk-Campaign") == [CAMPAIGN_UUID]


def test_a_rendered_header_cannot_inject_another_header() -> None:
    compiled = _compile(headers=[{"X-City": "{{ .Subscriber.Attribs.city }}"}])
    message = _message(Attribs={"city": "Porto\r\nBcc: victim@example.net"})
    mail = campaign_mail(compiled, message)
    parsed = _parse(mail.as_bytes())
    assert parsed["Bcc"] is None
    assert parsed["X-City"] == "Porto Bcc: victim@example.net"
    assert mail.recipients == ["ana@example.org"]


def test_custom_headers_override_the_standard_ones_and_steer_the_envelope() -> None:
    content = MessageContent(
        to=["ana@example.org"], subject="Receipt", body="<p>Paid</p>",
        headers=[("reply-to", "help@example.com"), ("Subject", "Overridden"),
                 ("Return-Path", "<bounces@example.com>"), ("Bcc", "audit@example.com"),
                 ("Cc", "Boss <boss@example.com>"), ("Content-Type", "text/evil")])
    mail = build_mime(content, from_email="shop@example.com")
    parsed = _parse(mail.as_bytes())
    assert parsed["Reply-To"] == "help@example.com"
    assert parsed["Subject"] == "Overridden"
    assert parsed["Cc"] == "Boss <boss@example.com>"
    assert parsed["Bcc"] is None and parsed["Return-Path"] is None
    assert parsed.get_content_type() == "text/html"
    assert mail.envelope_from == "bounces@example.com"
    assert mail.recipients == ["ana@example.org", "boss@example.com", "audit@example.com"]


def test_attachments_make_a_mixed_message_around_the_body() -> None:
    pdf = b"%PDF-1.4 \x00\xff binary"
    content = MessageContent(to=["ana@example.org"], subject="Invoice", body="<p>Attached</p>")
    files = [AttachmentFile(name="invoice-ü.pdf", content_type="application/pdf", content=pdf),
             AttachmentFile(name="notes", content_type="", content=b"x")]
    parsed = _parse(build_mime(content, from_email="shop@example.com",
                               attachments=files).as_bytes())
    assert parsed.get_content_type() == "multipart/mixed"
    html, invoice, notes = _parts(parsed)
    assert html.get_content_type() == "text/html"
    assert invoice.get_content_type() == "application/pdf"
    assert invoice.get_filename() == "invoice-ü.pdf"
    assert invoice["Content-Transfer-Encoding"] == "base64"
    assert invoice.get_content() == pdf
    assert notes.get_content_type() == "application/octet-stream"


def test_non_ascii_subjects_and_names_are_encoded_words_that_read_back() -> None:
    content = MessageContent(to=["zoe@example.org"], subject="Olá, Zoë — 50% off",
                             body="<p>ç</p>")
    raw = build_mime(content, from_email="Loja Ünica <loja@example.com>").as_bytes()
    assert raw.isascii()
    parsed = _parse(raw)
    assert parsed["Subject"] == "Olá, Zoë — 50% off"
    assert parsed["From"] == "Loja Ünica <loja@example.com>"


def test_without_a_message_id_one_is_generated_on_the_senders_domain() -> None:
    content = MessageContent(to=["a@example.org"], subject="s", body="b")
    parsed = _parse(build_mime(content, from_email="x@news.example.com",
                               content_type="plain").as_bytes())
    assert parsed["Message-Id"].endswith("@news.example.com>")


def test_the_unsubscribe_headers_can_be_left_out() -> None:
    compiled = compile_campaign(
        CampaignContent(name="n", subject="s", from_email="a@example.com", body="b"),
        campaign_uuid=CAMPAIGN_UUID, template_body=None,
        funcs=campaign_funcs(root_url=ROOT), root_url=ROOT, unsubscribe_header=False)
    parsed = _parse(campaign_mail(compiled, _message()).as_bytes())
    assert parsed["List-Unsubscribe"] is None
    assert parsed["X-Listmonk-Subscriber"] == SUBSCRIBER_UUID


@pytest.mark.parametrize(("fields", "problem"), [
    ({"subject": "{{ if }}"}, "error compiling subject"),
    ({"altbody": "{{ if }}"}, "error compiling alt plaintext message"),
    ({"headers": [{"X-A": "{{ Nope }}"}]}, "error compiling header 'X-A'"),
])
def test_compile_errors_name_the_part(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(TemplateError, match=problem):
        _compile(**fields)


def test_a_header_that_fails_to_render_is_named() -> None:
    compiled = _compile(headers=[{"X-N": "{{ .Subscriber.Nope }}"}])
    with pytest.raises(TemplateError, match="error rendering header 'X-N'"):
        campaign_mail(compiled, _message())


@pytest.mark.parametrize(("name", "canonical"), [
    ("x-custom-id", "X-Custom-Id"), ("MESSAGE-ID", "Message-Id"), ("reply-to", "Reply-To"),
    ("bad name", "bad name"),
])
def test_header_names_are_canonical_like_go(name: str, canonical: str) -> None:
    assert canonical_header(name) == canonical


def test_sealed_content_opens_with_its_key_only_and_reads_as_erased_without() -> None:
    content = MessageContent(to=["ana@example.org"], name="Ana", subject="s", body="<p>b</p>",
                             headers=[("X-A", "1")])
    key = new_data_key()
    for subscriber_id in (42, None):
        token = seal_content(key, content, "m-1", subscriber_id)
        assert "ana@example.org" not in token
        assert open_content(key, token, "m-1", subscriber_id) == content
        assert open_content(None, token, "m-1", subscriber_id) is None
    with pytest.raises(DecryptionError):
        open_content(key, seal_content(key, content, "m-1", 42), "m-1", 43)
    with pytest.raises(DecryptionError):
        open_content(key, seal_content(key, content, "m-1", None), "m-2", None)
