"""The validation boundary (``events/validation.py``): which texts an event may hold."""

from __future__ import annotations

import msgspec
import pytest

from events.validation import (
    JSON_MAX_DEPTH,
    EventTooLarge,
    InvalidText,
    check_event_size,
    check_json,
    check_line,
    check_text,
    holds_encoded_nul,
)

LINE_BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
               "\u2029"]
CONTROLS = ["\x01", "\x07", "\x1b", "\x1f", "\x7f", "\x80", "\x9b", "\x9f"]


@pytest.mark.parametrize("char", LINE_BREAKS)
def test_a_line_refuses_every_line_break(char: str) -> None:
    with pytest.raises(InvalidText, match=r"invalid name: it contains a line break \(U\+"):
        check_line(f"Eve{char}Bcc: a@evil", "name")


@pytest.mark.parametrize("char", CONTROLS)
def test_a_line_refuses_other_control_characters(char: str) -> None:
    with pytest.raises(InvalidText, match="a control character"):
        check_line(f"a{char}b", "subject")


def test_a_line_refuses_nul_and_lone_surrogates_by_name() -> None:
    with pytest.raises(InvalidText, match=r"a NUL character \(U\+0000\)"):
        check_line("Pub\x00Nul", "name")
    with pytest.raises(InvalidText, match="invalid Unicode surrogate"):
        check_line("a\ud800", "name")


@pytest.mark.parametrize("value", ["", "Ana Lima", "tab\tinside", "é" * 1000, "日本語", "\u00a0"])
def test_a_line_keeps_ordinary_text_as_it_is(value: str) -> None:
    assert check_line(value, "name") == value


def test_lengths_are_counted_in_utf8_bytes_like_go() -> None:
    assert check_line("é" * 1000, "name", 2000) == "é" * 1000
    with pytest.raises(InvalidText, match="longer than 2000 bytes"):
        check_line("é" * 1001, "name", 2000)
    with pytest.raises(InvalidText, match=r"^Invalid name\.$"):
        check_line("x" * 2001, "name", 2000, too_long="Invalid name.")


def test_multi_line_text_keeps_line_breaks_and_controls_but_not_nul() -> None:
    body = "<p>one</p>\r\n<p>two</p>\f\x1b[0m"
    assert check_text(body, "body") == body
    with pytest.raises(InvalidText, match="invalid body: it contains a NUL"):
        check_text("a\x00", "body")


def test_json_values_are_checked_keys_included() -> None:
    assert check_json({"city": "Oslo", "tags": ["a\nb"], "n": 1.5}, "attribs")
    for bad in ({"k\x00": "v"}, {"k": "v\x00"}, {"k": ["\x00"]}, {"k": {"deep": "\x00"}}):
        with pytest.raises(InvalidText, match="invalid attribs: it contains a NUL"):
            check_json(bad, "attribs")
    with pytest.raises(InvalidText, match="numbers must be finite"):
        check_json({"x": float("inf")}, "attribs")


def test_json_depth_is_limited_without_recursion() -> None:
    def nested(depth: int) -> dict[str, object]:
        value: dict[str, object] = {}
        for _ in range(depth - 1):
            value = {"a": value}
        return value

    assert check_json(nested(JSON_MAX_DEPTH), "attribs")
    with pytest.raises(InvalidText, match=f"nested more than {JSON_MAX_DEPTH} levels"):
        check_json(nested(JSON_MAX_DEPTH + 1), "attribs")
    with pytest.raises(InvalidText):
        check_json(nested(100_000), "attribs")  # no RecursionError


def test_event_size_limit() -> None:
    check_event_size(1_000_000)
    with pytest.raises(EventTooLarge, match="the limit is 1000000") as refused:
        check_event_size(1_000_001)
    assert refused.value.size == 1_000_001


@pytest.mark.parametrize(("text", "has_nul"), [
    ("a\x00b", True), ("\\u0000", False), ("\\\x00", True), ("\\\\\x00", True),
    ("\\\\u0000", False), ("plain u0000", False),
])
def test_encoded_nul_is_found_only_where_json_holds_one(text: str, has_nul: bool) -> None:
    assert holds_encoded_nul(msgspec.json.encode({"k": text})) is has_nul
