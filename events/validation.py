"""What text an event may hold: the one validation boundary every command passes.

Every text that enters an event (from the API, the public pages, an import, a transactional
message) is checked here before it is appended, so the log never holds an event that a
projection, the relay or the sender cannot take:

- **NUL** (U+0000) is refused everywhere: PostgreSQL cannot store it in ``text`` or ``jsonb``.
  Lone surrogates (U+D800-U+DFFF) are refused too: they have no UTF-8 encoding.
- **Single-line fields** (names, e-mails, subjects, tags, header names and values, slugs) also
  refuse every other control character, C0 (U+0001-U+001F except TAB), DEL, C1 (U+0080-U+009F,
  NEL included) and the Unicode line and paragraph separators (U+2028, U+2029): each of them is
  a line break for some mail or log parser, and none belongs in a one-line value. They are
  refused, not stripped, so the client learns that its data was not stored as sent.
- **Multi-line fields** (bodies, descriptions) and JSON values (attribs, tx data, archive
  meta) only refuse NUL and lone surrogates; JSON values are also limited to ``JSON_MAX_DEPTH``
  levels of nesting, object keys included.
- **Lengths** are counted in UTF-8 bytes, like Go's ``len`` in listmonk: ``LINE_MAX_BYTES``
  (listmonk's ``stdInputMaxLen``) keeps every indexed read-model column well under
  PostgreSQL's B-tree row limit (2,704 bytes), so a long value can never stop a projection.
- **Events** are at most ``MAX_EVENT_BYTES`` once encoded (data and metadata), below NATS's
  default ``max_payload`` of 1 MiB with room for the message envelope and headers; a bigger one
  is refused (``EventTooLarge``, answered 413) rather than published by reference, because every
  consumer (projector, sender, other services) would otherwise have to go back to PostgreSQL
  for it. The relay still publishes an event too big for its server by reference (see
  ``events/relay.py``), for a NATS server configured with a smaller limit.

Errors are ``kernel.errors.DomainError`` (and ``ValueError``) subclasses carrying the client's
message: answered 400 (``InvalidText``) and 413 (``EventTooLarge``) in listmonk's envelope.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from kernel.errors import DomainError

LINE_MAX_BYTES = 2000
JSON_MAX_DEPTH = 64
MAX_EVENT_BYTES = 1_000_000

# Characters no text may hold, and those a single-line value may not hold either.
_NEVER = re.compile("[\x00\ud800-\udfff]")
_NOT_IN_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


class InvalidText(DomainError, ValueError):
    """A value no event may hold; ``message`` is what the client is told (400)."""

    status_code = 400


class EventTooLarge(DomainError, ValueError):
    """An event bigger than ``MAX_EVENT_BYTES`` once encoded (413)."""

    status_code = 413

    def __init__(self, size: int, limit: int = MAX_EVENT_BYTES) -> None:
        super().__init__(f"request too large: it would record {size} bytes in one event,"
                         f" the limit is {limit}")
        self.size = size
        self.limit = limit


def describe(char: str) -> str:
    """``U+000B`` for a character, as the error messages name it."""
    return f"U+{ord(char):04X}"


def _problem(found: re.Match[str], field: str) -> InvalidText:
    char = found.group()
    what = ("a NUL character" if char == "\x00"
            else "an invalid Unicode surrogate" if "\ud800" <= char <= "\udfff"
            else "a line break" if char in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
            else "a control character")
    return InvalidText(f"invalid {field}: it contains {what} ({describe(char)})")


def check_line(value: str, field: str, max_bytes: int | None = LINE_MAX_BYTES,
               too_long: str | None = None) -> str:
    """``value`` if it is a valid single-line text of at most ``max_bytes`` UTF-8 bytes.

    ``too_long`` is the message for an over-long value (listmonk's wording where it has one,
    e.g. ``Invalid name.``); the default names the field and the limit.
    """
    found = _NOT_IN_LINE.search(value)
    if found is not None:
        raise _problem(found, field)
    return _within(value, field, max_bytes, too_long)


def check_text(value: str, field: str, max_bytes: int | None = None,
               too_long: str | None = None) -> str:
    """``value`` if it is a valid multi-line text (no NUL, no lone surrogate)."""
    found = _NEVER.search(value)
    if found is not None:
        raise _problem(found, field)
    return _within(value, field, max_bytes, too_long)


def _within(value: str, field: str, max_bytes: int | None, too_long: str | None) -> str:
    # A character is at most 4 bytes: most values are settled without encoding them.
    if max_bytes is not None and len(value) * 4 > max_bytes and len(value.encode()) > max_bytes:
        raise InvalidText(too_long or f"invalid {field}: longer than {max_bytes} bytes")
    return value


def check_json(value: Any, field: str, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """``value`` if every string in it (object keys included) is a valid text and it is nested
    at most ``max_depth`` levels deep. Iterative: a hostile depth cannot exhaust the stack."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            check_text(item, field)
        elif isinstance(item, Mapping | list | tuple):
            if depth > max_depth:
                raise InvalidText(f"invalid {field}: nested more than {max_depth} levels deep")
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise InvalidText(f"invalid {field}: object keys must be strings")
                    check_text(key, field)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidText(f"invalid {field}: numbers must be finite")
    return value


def check_lines(values: list[str] | tuple[str, ...], field: str,
                max_bytes: int | None = LINE_MAX_BYTES) -> None:
    """Every value of a list is a valid single-line text (tags, addresses)."""
    for value in values:
        check_line(value, field, max_bytes)


def check_event_size(size: int, limit: int = MAX_EVENT_BYTES) -> None:
    """Refuse an event whose encoded data and metadata take ``size`` bytes."""
    if size > limit:
        raise EventTooLarge(size, limit)


# NUL as JSON text encodes it (msgspec and PostgreSQL both write it this way): ``\u0000`` that
# is not itself the tail of an escaped backslash (``\\u0000`` is the text "\u0000"). jsonb
# refuses it, so finding it in an encoded event means some field escaped the checks above.
_ENCODED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def holds_encoded_nul(encoded_json: bytes) -> bool:
    """Whether JSON text holds a NUL character in some string."""
    return b"u0000" in encoded_json and _ENCODED_NUL.search(encoded_json) is not None
