"""Header text from data never leaves its header line, read back by two independent parsers.

Every dangerous character (everything some parser takes for a line break, control
characters, NUL, TAB) and the hardening issue's injection string are put in each position
that data reaches (subject, ``From`` and ``To`` display names, a custom header's value and
name). The serialized bytes are read by Python's ``email`` parser (``policy.default`` and
``compat32``) and by ``strict_fields`` below, a bytes-level RFC 5322 reader that shares no
code with the ``email`` package; ``lf_fields`` reads them as an MTA that splits lines at a
bare LF would.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.header import decode_header, make_header
from email.message import EmailMessage, Message

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from events.campaigns import CampaignContent
from events.messages import MessageContent
from services.sender.message import Mail, build_mime, campaign_mail
from services.sender.rendering import compile_campaign
from services.sender.templating import campaign_funcs
from services.sender.templating.data import Campaign, CampaignMessage, Subscriber

INJECTION = "Eve\vBcc: a@evil\vReply-To: a@evil\f\fYou won!"
INJECTION_CLEANED = "Eve Bcc: a@evil Reply-To: a@evil  You won!"
BODY = "Body stays.\n"
FIELD_NAME = re.compile(rb"[!-9;-~]+")
HEADER_BYTE = re.compile(rb"[\t -~]*")
STANDARD = ["From", "To", "Subject", "Date", "Message-Id"]
PLAIN_STRUCTURE = ["Content-Type", "Content-Transfer-Encoding", "MIME-Version"]

# (dangerous text, what it becomes in a header)
DANGEROUS = [
    ("\r", " "), ("\n", " "), ("\r\n", " "), ("\v", " "), ("\f", " "), ("\x1c", " "),
    ("\x1d", " "), ("\x1e", " "), ("\x85", " "), ("\u2028", " "), ("\u2029", " "),
    ("\x00", ""), ("\x7f", ""), ("\x9b", ""), ("\t", "\t"), (INJECTION, INJECTION_CLEANED),
]


def strict_fields(raw: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """The header fields (name, unfolded value) and the body of ``raw``, read by RFC 5322 at
    the byte level: lines end in CRLF only, a line starting with SP or HTAB continues the
    field before it (and holds more than white space), every other line is ``field-name ":"
    value``; header bytes are printable ASCII, SP or HTAB, at most 998 a line."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    assert separator, "no empty line ends the header section"
    fields: list[tuple[str, str]] = []
    for line in head.split(b"\r\n"):
        assert HEADER_BYTE.fullmatch(line), f"bare CR/LF, control or 8-bit byte in {line!r}"
        assert len(line) <= 998, "header line longer than 998 bytes"
        if line[:1] in (b" ", b"\t"):
            assert fields, "the header section starts with a continuation line"
            assert line.strip(b" \t"), "a continuation line of white space only"
            name, value = fields[-1]
            fields[-1] = (name, value + line.decode("ascii"))
            continue
        name, colon, value = line.partition(b":")
        assert colon and FIELD_NAME.fullmatch(name), f"not a header field: {line!r}"
        fields.append((name.decode("ascii"), value.decode("ascii").lstrip(" \t")))
    return fields, body


def lf_fields(raw: bytes) -> list[tuple[str, str]]:
    """The header fields as an MTA that ends lines at a bare LF (dropping a CR before it)
    reads them."""
    fields: list[tuple[str, str]] = []
    for line in (line.removesuffix(b"\r") for line in raw.split(b"\n")):
        if not line:
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + line.decode("ascii"))
        else:
            name, _, value = line.partition(b":")
            fields.append((name.decode("ascii"), value.decode("ascii").lstrip(" \t")))
    return fields


def read_back(raw: bytes) -> tuple[EmailMessage, Message, list[tuple[str, str]]]:
    """The message read by ``policy.default``, by ``compat32`` and by ``strict_fields``, after
    checking that all of them and ``lf_fields`` see the same header names in the same order."""
    modern = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(modern, EmailMessage)
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    fields, _ = strict_fields(raw)
    head = raw.partition(b"\r\n\r\n")[0]
    assert re.search(rb"(?<!\r)\n|\r(?!\n)", head) is None, "bare LF or CR in the header"
    assert lf_fields(raw) == fields
    names = [name for name, _ in fields]
    assert modern.keys() == names and legacy.keys() == names
    assert not modern.defects and not legacy.defects
    return modern, legacy, fields


def _mail(position: str, text: str) -> Mail:
    subject, from_email = "Hello world", "Shop <shop@example.com>"
    headers = [("X-Note", "a note")]
    if position == "subject":
        subject = f"Hello {text} world"
    elif position == "From display name":
        from_email = f"Shop {text} Team <shop@example.com>"
    elif position == "To display name":
        headers.append(("To", f"Ana {text} Lima <ana@example.org>"))
    elif position == "custom header value":
        headers = [("X-Note", f"a {text} note")]
    else:
        headers = [(f"X-{text}Bad", "bad"), ("X-Note", "a note")]
    content = MessageContent(to=["ana@example.org"], subject=subject, body=BODY, headers=headers)
    return build_mime(content, from_email=from_email, content_type="plain", message_id="m-1")


POSITIONS = {
    "subject": ("Subject", "Hello {} world"),
    "From display name": ("From", "Shop {} Team <shop@example.com>"),
    "To display name": ("To", "Ana {} Lima <ana@example.org>"),
    "custom header value": ("X-Note", "a {} note"),
    "custom header name": ("X-Note", "a note"),
}


@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize(("text", "cleaned"), DANGEROUS, ids=[repr(t) for t, _ in DANGEROUS])
def test_dangerous_text_stays_inside_its_header(position: str, text: str, cleaned: str) -> None:
    mail = _mail(position, text)
    modern, legacy, fields = read_back(mail.as_bytes())

    assert [name for name, _ in fields] == [*STANDARD, "X-Note", *PLAIN_STRUCTURE]
    header, template = POSITIONS[position]
    expected = template.format(cleaned)
    assert dict(fields)[header] == expected
    assert legacy[header] == expected
    if header in ("Subject", "X-Note"):
        assert modern[header] == expected
    assert modern.get_content() == BODY.replace("\n", "\r\n")
    assert legacy.get_payload(decode=True) == BODY.replace("\n", "\r\n").encode()
    assert mail.recipients == ["ana@example.org"]


def _campaign_mail(name: str) -> Mail:
    root = "https://lists.example.com"
    compiled = compile_campaign(
        CampaignContent(name="n", subject="Hi {{ .Subscriber.Name }}",
                        from_email="News <news@example.com>",
                        body="<p>Hello {{ .Subscriber.Name }}</p>",
                        altbody="Hello {{ .Subscriber.Name }}",
                        headers=[{"To": "{{ .Subscriber.Name }} <{{ .Subscriber.Email }}>"},
                                 {"X-Name": "{{ .Subscriber.Name }}"}]),
        campaign_uuid="c-1", template_body=None, funcs=campaign_funcs(root_url=root),
        root_url=root)
    message = CampaignMessage(Campaign=Campaign(UUID="c-1", Name="n"),
                              Subscriber=Subscriber(UUID="s-1", Email="ana@example.org",
                                                    Name=name))
    return campaign_mail(compiled, message, message_id="m-1")


@pytest.mark.parametrize(("name", "shown"), [
    (INJECTION, INJECTION_CLEANED), ("Zoë\x85Bcc: x@evil", "Zoë Bcc: x@evil"),
    ("Ana\u2028Lima", "Ana Lima"), ("Zoë\u2029\u2028Reply-To: x@evil", "Zoë  Reply-To: x@evil"),
])
def test_a_subscriber_name_rendered_into_headers_adds_none(name: str, shown: str) -> None:
    mail = _campaign_mail(name)  # a name with NEL or U+2028 made build_mime raise
    modern, legacy, fields = read_back(mail.as_bytes())

    assert [field for field, _ in fields] == [
        "From", "To", "Subject", "Date", "Message-Id", "X-Listmonk-Campaign",
        "X-Listmonk-Subscriber", "List-Unsubscribe-Post", "List-Unsubscribe", "X-Name",
        "MIME-Version", "Content-Type"]
    assert modern["Subject"] == f"Hi {shown}"
    assert modern["X-Name"] == shown
    assert str(make_header(decode_header(legacy["Subject"]))) == f"Hi {shown}"
    text, html = modern.iter_parts()
    assert "Hello" in text.get_content() and "<p>Hello" in html.get_content()
    assert mail.recipients == ["ana@example.org"]
    assert mail.envelope_from == "news@example.com"


def test_a_value_the_email_package_cannot_parse_is_written_as_encoded_words() -> None:
    odd = "ó¼Éi`@"  # the email package's address parser raises IndexError on it
    content = MessageContent(to=["ana@example.org"], subject="s", body=BODY,
                             headers=[("To", odd), ("Cc", "é <")])
    _, legacy, fields = read_back(build_mime(content, from_email="a@example.com").as_bytes())
    assert str(make_header(decode_header(legacy["To"]))) == odd
    assert str(make_header(decode_header(legacy["Cc"]))) == "é <"
    assert dict(fields)["To"].startswith("=?utf-8?b?")


def test_a_header_with_an_invalid_name_is_never_written_and_is_logged_at_debug() -> None:
    with capture_logs() as logs:
        mail = _mail("custom header name", "\v")
        mail.message["Bad Name"] = "set on the message directly"
        mail.message["X-\u2028Bcc"] = "a@evil"
        _, _, fields = read_back(mail.as_bytes())
    assert [name for name, _ in fields] == [*STANDARD, "X-Note", *PLAIN_STRUCTURE]
    assert [(log["log_level"], log["event"], log["header"]) for log in logs] == [
        ("debug", "mail_header_dropped", "X-\vBad"),
        ("debug", "mail_header_dropped", "Bad Name"),
        ("debug", "mail_header_dropped", "X-\u2028Bcc")]


def test_long_and_non_ascii_values_are_folded_and_encoded_to_read_back_whole() -> None:
    subject = "Olá " * 40 + "x" * 1200
    content = MessageContent(to=["ana@example.org"], subject=subject, body=BODY,
                             headers=[("X-Long", "word " * 300), ("X-Token", "y" * 1200),
                                      ("X-Nul", "a\x00b"), ("X-Lone", "a\ud83db")])
    raw = build_mime(content, from_email="Zoë <z@example.com>").as_bytes()
    assert raw.isascii()
    modern, _, _ = read_back(raw)
    assert modern["Subject"] == subject
    assert modern["X-Long"] == "word " * 300
    assert modern["X-Token"] == "y" * 1200
    assert modern["X-Nul"] == "ab"
    assert modern["X-Lone"] == "a\ufffdb"  # a lone surrogate has no UTF-8 form
    assert str(modern["From"]) == "Zoë <z@example.com>"
    assert b"\x00" not in raw


_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF)
                | st.sampled_from([c for c, _ in DANGEROUS if len(c) == 1]
                                  + list(' <>@,;:"\\()=?é\ud83d\udca9')),
                max_size=120)
_NAMES = st.sampled_from(["To", "Cc", "From", "Reply-To", "Subject", "Date", "Message-Id",
                          "Sender", "Bcc", "Return-Path", "Content-Disposition", "Content-Id",
                          "X-Note"]) | _TEXT


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_TEXT, sender=_TEXT, headers=st.lists(st.tuples(_NAMES, _TEXT), max_size=4),
       content_type=st.sampled_from(["plain", "html"]))
def test_no_string_makes_build_mime_raise_or_write_a_broken_header(
        subject: str, sender: str, headers: list[tuple[str, str]], content_type: str) -> None:
    content = MessageContent(to=["ana@example.org"], subject=subject, body=BODY,
                             headers=headers)
    mail = build_mime(content, from_email=sender, content_type=content_type,
                      message_id="m-1")
    modern, _, fields = read_back(mail.as_bytes())
    names = [name.lower() for name, _ in fields]
    assert "bcc" not in names and "return-path" not in names
    for unique in ("from", "to", "subject", "date", "message-id", "content-type"):
        assert names.count(unique) <= 1
    assert names.count("from") == names.count("date") == names.count("message-id") == 1
    assert modern.get_content_type() == f"text/{content_type}"  # no derived text part
    assert modern.get_content().replace("\r\n", "\n").strip() == BODY.strip()
