"""Header text that cannot leave its header line: cleaning, field names, wire-form checks.

Header values are built from data (a subscriber's name rendered into a subject or a ``To``
display name, a campaign's or an API caller's custom headers), so every one of them is
treated as hostile. Python's ``email`` package breaks header text into lines with
``str.splitlines``, which splits not only at CR and LF but at VT, FF, FS, GS, RS, NEL, LINE
SEPARATOR and PARAGRAPH SEPARATOR: a value holding one of them was written as several lines,
the next one a header of its own (or, after two, the start of the body), or made the package
raise. Other parsers split at a bare CR or a bare LF. Hence three rules, applied by
``services.sender.message.SenderPolicy`` to every header it stores and writes:

- ``clean_header_value``: each of those line breaks (``\\r\\n`` counting as one) becomes a
  space; every other control character (C0 but TAB, DEL, C1) is removed, and a lone surrogate
  (which has no UTF-8 form) becomes U+FFFD;
- ``is_field_name``: a header name is RFC 5322's printable ASCII 33-126 except ``:``; any
  other name is never written;
- ``is_safe_field``: the wire form of a header is checked before it is written: lines that
  end in the policy's line separator, continuation lines that start with a space or tab and
  hold more than white space, nothing but printable ASCII, space and tab, at most 998
  characters a line. A header that the ``email`` package cannot fold into that form is
  written by ``encoded_words_field`` instead.
"""

from __future__ import annotations

import base64
import re
from functools import cache

# What a parser may take for the end of a line (``str.splitlines`` and the e-mail parsers).
_LINE_BREAK = frozenset("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
# Everything ``clean_header_value`` changes: CRLF first, so that it becomes one space.
_UNSAFE = re.compile("\r\n|[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_FIELD_NAME = re.compile("[!-9;-~]+")
MAX_LINE = 998  # RFC 5322's limit of a line, CRLF excluded
# UTF-8 bytes per encoded word: base64 of 45 bytes is 60 characters, the word 72 (limit 75).
_WORD_BYTES = 45


def _replacement(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\r\n" or char in _LINE_BREAK:
        return " "
    return "\ufffd" if "\ud800" <= char <= "\udfff" else ""


def clean_header_value(value: str) -> str:
    """``value`` on one line for any parser, without control characters (the value itself
    when it is already so, the common case)."""
    if value.isprintable() or _UNSAFE.search(value) is None:  # isprintable: the quick yes
        return value
    return _UNSAFE.sub(_replacement, value)


def is_field_name(name: str) -> bool:
    """Whether ``name`` is an RFC 5322 field name (printable ASCII but ``:``, not empty)."""
    return _FIELD_NAME.fullmatch(name) is not None


@cache
def _field_pattern(linesep: str) -> re.Pattern[str]:
    sep = re.escape(linesep)
    return re.compile(f"[!-9;-~]+:[\\t -~]*(?:{sep}[\\t ]+[!-~][\\t -~]*)*{sep}")


_CRLF_FIELD = _field_pattern("\r\n")


def is_safe_field(folded: str, linesep: str = "\r\n") -> bool:
    """Whether ``folded`` (``Name: value`` plus line ends, as a policy folds it) is one
    header and only one for any reader: see the module docstring for the rules."""
    pattern = _CRLF_FIELD if linesep == "\r\n" else _field_pattern(linesep)
    if pattern.fullmatch(folded) is None:
        return False
    if len(folded) <= MAX_LINE + len(linesep):
        return True
    return all(len(line) <= MAX_LINE for line in folded.split(linesep))


def encoded_words_field(name: str, value: str, linesep: str = "\r\n") -> str:
    """``Name: value`` with the value as RFC 2047 base64 encoded words of UTF-8, one per
    line: a form any text takes safely (structured headers read it as a display text)."""
    words: list[bytes] = []
    chunk = b""
    for char in clean_header_value(value):
        data = char.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += data
    if chunk:
        words.append(chunk)
    encoded = [f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words]
    return f"{name}: " + f"{linesep} ".join(encoded) + linesep
