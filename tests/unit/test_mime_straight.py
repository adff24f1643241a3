"""``build_mime`` writes most messages straight to bytes; they must be the e-mails the
``EmailMessage`` path makes: the same header lines byte for byte, the same parts in the same
order with the same headers, the same decoded content; and they pass the header-safety
readers of ``test_mime_headers`` and a line-length check."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.messages import MessageContent
from services.sender.message import SMTP, Mail, build_mime, quoted_printable
from tests.unit.test_mime_headers import DANGEROUS, read_back

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
BOUNDARY = re.compile(rb"=_[0-9a-f]{32}")


def _straight_and_slow(mail: Mail) -> tuple[bytes, bytes]:
    straight = mail.as_bytes()
    slow = mail.message.as_bytes(policy=SMTP)  # built through EmailMessage on first use
    return straight, slow


def _parsed(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects
    return parsed


def assert_same_email(straight: bytes, slow: bytes) -> None:
    """Same header section (boundaries aside), same parts, same decoded payloads."""
    head, _, _ = straight.partition(b"\r\n\r\n")
    slow_head, _, _ = slow.partition(b"\r\n\r\n")
    assert BOUNDARY.sub(b"=_B", head) == BOUNDARY.sub(b"=_B", slow_head)
    mine, theirs = list(_parsed(straight).walk()), list(_parsed(slow).walk())
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs, strict=True):
        assert [(k, BOUNDARY.sub(b"=_B", v.encode()).decode()) for k, v in a.raw_items()] \
            == [(k, BOUNDARY.sub(b"=_B", v.encode()).decode()) for k, v in b.raw_items()]
        if not a.is_multipart():
            assert a.get_payload(decode=True) == b.get_payload(decode=True)
            assert a.get_content() == b.get_content()
    assert straight.endswith(b"\r\n")
    assert re.search(rb"(?<!\r)\n|\r(?!\n)", straight) is None, "bare CR or LF"
    body = straight.partition(b"\r\n\r\n")[2]
    assert all(len(line) <= 76 for line in body.split(b"\r\n")), "a body line over 76"


def test_a_campaign_like_message_is_the_same_email_both_ways() -> None:
    content = MessageContent(
        to=["ana@example.org"], name="Ana", subject="News for Ana",
        body='<p class="x">Hello Ana Lima from Porto</p>\n.\n..dots\n<p>trailing   \n'
             + "<p>" + "long line with = signs and é " * 20 + "</p>\r\nend",
        altbody="Hello Ana Lima from Porto\n.\nread it online",
        headers=[("X-Listmonk-Campaign", "c-1"), ("X-Listmonk-Subscriber", "s-1"),
                 ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                 ("List-Unsubscribe", "<https://lists.example.com/subscription/"
                                      "6b9f3bb8-8a5b-4a43-9a3b-2a3c1f0c1d01/0f6c1c64-7b4e>"),
                 ("X-City", "Kraków")])
    mail = build_mime(content, from_email="Lists <news@example.com>", message_id="m-1",
                      date=WHEN)
    straight, slow = _straight_and_slow(mail)
    assert_same_email(straight, slow)
    parsed = _parsed(straight)
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.iter_parts()
    assert "Hello Ana Lima from Porto" in text.get_content()
    assert html.get_content().replace("\r\n", "\n") == content.body.replace("\r\n", "\n") + "\n"
    read_back(straight)


@pytest.mark.parametrize("content_type", ["plain", "html", "richtext", "markdown"])
@pytest.mark.parametrize("altbody", [None, "", "Hi, read it online.\n.\n"])
def test_every_body_shape_is_the_same_email_both_ways(content_type: str,
                                                      altbody: str | None) -> None:
    content = MessageContent(to=["a@example.org", "b@example.org"], subject="s",
                             body="<p>b</p>\n.\n", altbody=altbody)
    mail = build_mime(content, from_email="x@example.com", content_type=content_type,
                      message_id="m")
    assert_same_email(*_straight_and_slow(mail))


def test_a_changed_message_object_is_what_is_sent_afterwards() -> None:
    mail = build_mime(MessageContent(to=["a@example.org"], subject="s", body="<p>b</p>"),
                      from_email="x@example.com")
    mail.message["X-Added"] = "later"
    assert b"X-Added: later\r\n" in mail.as_bytes()


@pytest.mark.parametrize(("text", "expected"), [
    ("", b"\r\n"), ("a", b"a\r\n"), ("a\nb\r\nc\rd", b"a\r\nb\r\nc\r\nd\r\n"),
    (".\n", b"=2E\r\n"), ("x = y", b"x =3D y\r\n"), ("é", b"=C3=A9\r\n"),
    ("end  ", b"end =20\r\n"),
])
def test_quoted_printable_lines_end_in_crlf_and_decode_back(text: str,
                                                           expected: bytes) -> None:
    assert quoted_printable(text) == expected


_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                              exclude_categories=["Cs"])
                | st.sampled_from([c for c, _ in DANGEROUS if len(c) == 1]
                                  + list(' <>@,;:"\\()=?.é\t\r\n')),
                max_size=200)
_NAMES = st.sampled_from(["To", "Cc", "From", "Reply-To", "Subject", "Date", "Message-Id",
                          "Sender", "Bcc", "Return-Path", "X-Note", "List-Unsubscribe"]) | _TEXT


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_TEXT, sender=_TEXT, headers=st.lists(st.tuples(_NAMES, _TEXT), max_size=4),
       body=_TEXT, altbody=st.none() | _TEXT,
       content_type=st.sampled_from(["plain", "html", "richtext"]))
def test_any_message_is_the_same_email_both_ways(
        subject: str, sender: str, headers: list[tuple[str, str]], body: str,
        altbody: str | None, content_type: str) -> None:
    content = MessageContent(to=["ana@example.org"], subject=subject, body=body,
                             altbody=altbody, headers=headers)
    mail = build_mime(content, from_email=sender, content_type=content_type,
                      message_id="m-1", date=WHEN)
    straight, slow = _straight_and_slow(mail)
    assert_same_email(straight, slow)
    read_back(straight)


def test_a_long_url_header_is_written_whole_not_as_encoded_words() -> None:
    """A List-Unsubscribe URL is longer than 78 characters and has no space to fold at: the
    email package would write it as RFC 2047 encoded words, which List-Unsubscribe readers
    (mailbox providers' one-click unsubscribe) do not decode. It is written whole, as
    listmonk writes it; a line stays within RFC 5322's 998 characters."""
    url = "https://lists.example.com/subscription/" + "6b9f3bb8-8a5b-4a43" * 4
    both = f"<mailto:unsubscribe@example.com>, <{url}>"
    content = MessageContent(to=["a@example.org"], subject="s", body="<p>b</p>",
                             headers=[("List-Unsubscribe", f"<{url}>"), ("X-Both", both),
                                      ("X-Huge", "y" * 1200)])
    raw = build_mime(content, from_email="x@example.com").as_bytes()
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in raw
    assert f"\r\nX-Both: {both}\r\n".encode() in raw
    modern, _, fields = read_back(raw)
    assert modern["X-Huge"] == "y" * 1200  # too long for one line: encoded words still
    assert dict(fields)["X-Huge"].startswith("=?")
