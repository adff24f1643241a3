"""Subscriber request fields: listmonk's e-mail rules, default names, Go-like JSON binding."""

from __future__ import annotations

import re

import pytest

from events.validation import InvalidText
from kernel.errors import InvalidInput
from services.command_api.subscribers.fields import (
    SubscriberFields,
    fields_from_form,
    fields_from_json,
    name_from_email,
    sanitize_email,
)
from services.command_api.subscribers.index import email_hash


@pytest.mark.parametrize(("raw", "clean"), [
    ("john@example.com", "john@example.com"),
    ("  John.Doe@Example.COM\t", "john.doe@example.com"),
    ("a+tag@sub.example.org", "a+tag@sub.example.org"),
    ("o'neil@example.com", "o'neil@example.com"),
    ("user@localhost", "user@localhost"),
    ("ünïcode@exämple.com", "ünïcode@exämple.com"),
])
def test_valid_emails_are_trimmed_and_lower_cased(raw: str, clean: str) -> None:
    assert sanitize_email(raw) == clean


@pytest.mark.parametrize("raw", [
    "", "plain", "a@", "@b.c", "a@@b.c", "a b@c.d", "John <j@x.com>", "<j@x.com>",
    "j@x.com (comment)", '"quoted"@x.com', "a..b@c.d", ".a@b.c", "a.@b.c", "a@b..c", "a@.b",
    "a@b.", "a,b@c.d",
])
def test_invalid_emails_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match=r"Invalid email\."):
        sanitize_email(raw)


def test_create_email_is_at_most_1000_bytes() -> None:
    long_local = "a" * 990
    with pytest.raises(InvalidInput):
        SubscriberFields(email=f"{long_local}@example.com").create_email()


@pytest.mark.parametrize(("email", "name"), [
    ("john@example.com", "John"),
    ("john.doe@example.com", "John Doe"),
    ("JOHN..DOE@example.com", "John Doe"),
    ("mary-jane.o'neil@example.com", "Mary-Jane O'neil"),
    ("first_last@example.com", "First_last"),
])
def test_name_is_made_from_the_email(email: str, name: str) -> None:
    assert name_from_email(email) == name


def test_create_name_is_trimmed_or_derived() -> None:
    assert SubscriberFields(name="  Jo  ").create_name("x@y.z") == "Jo"
    assert SubscriberFields(name="   ").create_name("ann.lee@y.z") == "Ann Lee"


def test_update_name_empty_keeps_and_long_is_refused() -> None:
    assert SubscriberFields(name="").update_name() is None
    assert SubscriberFields(name=" Al ").update_name() == "Al"
    with pytest.raises(InvalidText, match=r"Invalid name\."):
        SubscriberFields(name="x" * 2001).update_name()
    with pytest.raises(InvalidText, match="it contains a line break"):
        SubscriberFields(name="a\vb").update_name()


def test_json_binding_like_go() -> None:
    fields = fields_from_json(b'{"EMAIL": "a@b.c", "email": "x@y.z", "Lists": [1, null, 3],'
                              b' "attribs": {"k": 1}, "preconfirm_subscriptions": true,'
                              b' "unknown": 5, "name": null}')
    assert fields == SubscriberFields(email="x@y.z", name=None, attribs={"k": 1},
                                      attribs_sent=True, lists=(1, 0, 3), preconfirm=True)
    assert fields_from_json(b"") == SubscriberFields()
    assert fields_from_json(b'{"attribs": null}').attribs_sent


@pytest.mark.parametrize(("body", "message"), [
    (b'{"email": 5}', "expected=string, got=number, field=email"),
    (b'{"lists": "1"}', "expected=[]int, got=string, field=lists"),
    (b'{"lists": [1.5]}', "expected=int, got=number, field=lists"),
    (b'{"attribs": []}', "expected=models.JSON, got=array, field=attribs"),
    (b'{"preconfirm_subscriptions": "yes"}', "expected=bool, got=string"),
    (b"[]", "expected=object, got=array"),
    (b"{", "Syntax error"),
])
def test_json_type_errors_are_400(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        fields_from_json(body)


def test_form_binding() -> None:
    fields = fields_from_form({"Email": ["a@b.c"], "lists": ["1", "2"],
                               "preconfirm_subscriptions": ["true"]})
    assert (fields.email, fields.lists, fields.preconfirm) == ("a@b.c", (1, 2), True)


def test_email_index_key_is_a_case_insensitive_hash() -> None:
    assert email_hash("John@Example.com") == email_hash("john@example.com")
    assert "john" not in email_hash("john@example.com") and len(email_hash("a@b.c")) == 64
