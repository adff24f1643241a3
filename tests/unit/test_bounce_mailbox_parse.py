"""Reading bounce messages (services/sender/bounce_mailbox/parse.py): who bounced, from which
campaign, hard/soft/complaint, on bounces as Postfix, Exim, Gmail and feedback loops send them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from events.validation import LINE_MAX_BYTES, check_line
from services.sender.bounce_mailbox.parse import ReadBounce, read_bounce
from tests.mail_servers import (
    Original,
    arf_complaint,
    exim_bounce,
    gmail_bounce,
    not_a_bounce,
    postfix_bounce,
)

CAMPAIGN = "6f1d2e3a-1111-4222-8333-944455556666"
SUBSCRIBER = "0a0b0c0d-aaaa-4bbb-8ccc-dddddddddddd"
ORIGINAL = Original(CAMPAIGN, SUBSCRIBER, "jane@example.org")


def assert_names_the_original(read: ReadBounce) -> None:
    assert read.campaign_uuid == CAMPAIGN
    assert read.subscriber_uuid == SUBSCRIBER
    assert read.recipient == "jane@example.org"
    assert read.attributable


def test_postfix_user_unknown_is_hard() -> None:
    read = read_bounce(postfix_bounce(ORIGINAL, status="5.1.1"))
    assert (read.kind, read.reason) == ("hard", "smtp_status=5.1.1")
    assert_names_the_original(read)
    assert read.message_id == "<20240402100012.4F1C2E0123@mx.postlog.example>"
    assert read.date == datetime(2024, 4, 2, 10, 0, 12, tzinfo=UTC)
    assert read.meta["from"] == "MAILER-DAEMON@mx.postlog.example (Mail Delivery System)"
    assert read.meta["subject"] == "Undelivered Mail Returned to Sender"
    assert read.meta["message_id"] == read.message_id
    assert read.meta["delivered_to"] == "bounces@postlog.example"
    assert read.meta["received"] == [
        "by mx.postlog.example (Postfix) id 4F1C2E0123; Tue, 2 Apr 2024 10:00:12 +0000 (UTC)"]
    assert read.meta["classify_reason"] == "smtp_status=5.1.1"
    assert read.meta["diagnostic_code"].startswith("smtp; 550 5.1.1 <jane@example.org>")


def test_postfix_mailbox_full_delay_is_soft() -> None:
    read = read_bounce(postfix_bounce(ORIGINAL, status="4.2.2", action="delayed"))
    assert (read.kind, read.reason) == ("soft", "smtp_status=4.2.2")
    assert_names_the_original(read)
    assert "Mailbox full" in read.meta["diagnostic_code"]


def test_a_5xx_status_is_hard_whatever_the_words() -> None:
    """listmonk's rule: the status class decides, 5.2.2 (mailbox full, refused for good) too."""
    read = read_bounce(postfix_bounce(ORIGINAL, status="5.2.2",
                                      diagnostic="smtp; 552 5.2.2 Mailbox full"))
    assert (read.kind, read.reason) == ("hard", "smtp_status=5.2.2")


def test_exim_permanent_error_without_dsn_is_hard() -> None:
    read = read_bounce(exim_bounce(ORIGINAL, permanent=True))
    assert (read.kind, read.reason) == ("hard", "smtp_code=550")
    assert_names_the_original(read)  # from X-Failed-Recipients and the quoted original
    assert read.date == datetime(2024, 4, 2, 10, 1, 2, tzinfo=UTC)


def test_exim_temporary_error_is_soft() -> None:
    read = read_bounce(exim_bounce(ORIGINAL, permanent=False))
    assert (read.kind, read.reason) == ("soft", "smtp_code=452")
    assert_names_the_original(read)


def test_gmail_address_not_found_is_hard() -> None:
    read = read_bounce(gmail_bounce(ORIGINAL))
    assert (read.kind, read.reason) == ("hard", "smtp_status=5.1.1")
    assert_names_the_original(read)  # from the text/rfc822-headers part
    assert read.date == datetime(2024, 4, 2, 3, 2, 4, tzinfo=timezone(timedelta(hours=-7)))
    assert read.meta["from"] == "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"
    assert "\n" not in read.meta["diagnostic_code"]


def test_arf_report_is_a_complaint() -> None:
    read = read_bounce(arf_complaint(ORIGINAL))
    assert (read.kind, read.reason) == ("complaint", "feedback_type=abuse")
    assert_names_the_original(read)
    assert read.meta["feedback_type"] == "abuse"


def test_the_returned_message_is_not_classified() -> None:
    """The original's words ("does not exist", "550 5.1.1" in a newsletter) never decide."""
    newsletter = Original(CAMPAIGN, SUBSCRIBER, "jane@example.org",
                          body="Our old address does not exist.\n550 5.1.1 is our code.\n")
    report = (
        "From: MAILER-DAEMON@mx.example.net\nSubject: Warning: message delayed\n"
        "Message-ID: <delay.1@mx.example.net>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nThe remote server is busy; we will retry.\n"
        "--b\nContent-Type: message/rfc822\n\n" + newsletter.message() + "\n--b--\n")
    read = read_bounce(report.encode())
    assert (read.kind, read.reason) == ("soft", "default")
    assert_names_the_original_ids(read)


def assert_names_the_original_ids(read: ReadBounce) -> None:
    assert (read.campaign_uuid, read.subscriber_uuid) == (CAMPAIGN, SUBSCRIBER)


def test_hard_words_decide_without_any_code() -> None:
    text = ("From: postmaster@example.net\nSubject: failure notice\nMessage-ID: <q.1@x>\n\n"
            "Hi. This is the qmail-send program at example.net.\n"
            "<jane@example.org>:\nSorry, no mailbox here by that name. No such user here.\n\n"
            "--- Below this line is a copy of the message.\n\n" + ORIGINAL.message())
    read = read_bounce(text.encode())
    assert (read.kind, read.reason) == ("hard", "body_match=No such user")
    assert_names_the_original_ids(read)


def test_an_enhanced_status_in_plain_text_decides() -> None:
    text = ("From: postmaster@example.net\nSubject: Undeliverable\nMessage-ID: <t.1@x>\n\n"
            "Delivery to the following recipient failed permanently:\n"
            "    jane@example.org\nRemote server returned: 550-5.7.1 Blocked by policy\n\n"
            "----- Original message -----\n\n" + ORIGINAL.message())
    read = read_bounce(text.encode())
    assert (read.kind, read.reason) == ("hard", "smtp_status=5.7.1")


def test_ids_found_in_an_encoded_copy_and_in_any_case() -> None:
    """An MTA that attaches the original base64-encoded, with upper-case uuids."""
    upper = Original(CAMPAIGN.upper(), SUBSCRIBER.upper(), "jane@example.org")
    encoded = base64.encodebytes(upper.message().encode()).decode()
    text = ("From: postmaster@example.net\nSubject: Returned mail\nMessage-ID: <b.1@x>\n"
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="x"\n\n'
            "--x\nContent-Type: text/plain\n\n550 5.1.1 user unknown\n"
            "--x\nContent-Type: text/plain; name=original.eml\n"
            "Content-Transfer-Encoding: base64\n\n" + encoded + "--x--\n")
    read = read_bounce(text.encode())
    assert_names_the_original_ids(read)
    assert read.kind == "hard"


def test_a_message_naming_nobody_is_not_attributable() -> None:
    read = read_bounce(not_a_bounce())
    assert not read.attributable
    assert (read.campaign_uuid, read.subscriber_uuid, read.recipient) == ("", "", "")


def test_the_key_is_the_message_id_or_the_bytes() -> None:
    first = read_bounce(postfix_bounce(ORIGINAL))
    assert read_bounce(postfix_bounce(ORIGINAL)).key == first.key  # read again: same key
    other = read_bounce(postfix_bounce(ORIGINAL, message_id="<other@mx.postlog.example>"))
    assert other.key != first.key
    no_id = b"From: a@b.c\nSubject: x\n\nX-Listmonk-Subscriber: " + SUBSCRIBER.encode() + b"\n"
    assert read_bounce(no_id).key == read_bounce(no_id).key
    assert read_bounce(no_id).key != read_bounce(no_id + b"more\n").key
    assert first.key.startswith("mailbox-bounce:")


def test_a_bad_uuid_is_no_uuid() -> None:
    text = ("From: a@b.c\nMessage-ID: <u.1@x>\n\nX-Listmonk-Campaign: not-a-uuid\n"
            "X-Listmonk-Subscriber: 0a0b0c0d-aaaa-4bbb-8ccc-dddddddddddZ\n")
    read = read_bounce(text.encode())
    assert (read.campaign_uuid, read.subscriber_uuid) == ("", "")


def test_a_date_out_of_range_is_no_date() -> None:
    read = read_bounce(b"From: a@b.c\nDate: Wed, 02 Apr 1969 10:00:00 +0000\n\nhi\n")
    assert read.date is None
    assert read_bounce(b"From: a@b.c\nDate: yesterday\n\nhi\n").date is None


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _assert_event_safe(read: ReadBounce) -> None:
    assert read.kind in ("soft", "hard", "complaint")
    for text in [*_texts(read.meta), read.campaign_uuid, read.subscriber_uuid, read.recipient,
                 read.key, read.reason]:
        check_line(text, "meta", LINE_MAX_BYTES)  # raises on NUL, control chars, length


_SAMPLES = [postfix_bounce(ORIGINAL), exim_bounce(ORIGINAL), gmail_bounce(ORIGINAL),
            arf_complaint(ORIGINAL)]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_read_safely(raw: bytes) -> None:
    _assert_event_safe(read_bounce(raw))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_SAMPLES), st.integers(0, 5000), st.binary(min_size=1, max_size=40))
def test_damaged_bounces_read_safely(sample: bytes, at: int, junk: bytes) -> None:
    """A real bounce with bytes inserted anywhere (NULs, CRs, bad UTF-8, cut boundaries)."""
    position = at % (len(sample) + 1)
    _assert_event_safe(read_bounce(sample[:position] + junk + sample[position:]))


def test_hostile_header_texts_are_one_safe_line() -> None:
    subject = "=?utf-8?b?" + base64.b64encode("x\x00y\u2028z\r\nBcc: a@b".encode()).decode() + "?="
    raw = (f"From: MAILER-DAEMON@x\nSubject: {subject}\nMessage-ID: <h@x>\n"
           f"Received: " + "a" * 5000 + "\n\nX-Listmonk-Subscriber: " + SUBSCRIBER + "\n")
    read = read_bounce(raw.encode())
    _assert_event_safe(read)
    assert read.meta["subject"] == "x y z Bcc: a@b"
    assert len(read.meta["received"][0]) == 500
