"""Go duration strings (``"15s"``, ``"10ms"``, ``"1h30m"``) as seconds.

listmonk's settings store every timeout and delay as a Go duration string, and the settings
model keeps them so (``events.settings``); the messengers need seconds. The grammar is Go's
``time.ParseDuration``: an optional sign, then one or more decimal numbers each followed by a
unit (``ns``, ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``); ``"0"`` alone is zero.
"""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0,
          "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def go_duration_seconds(text: str) -> float:
    """The seconds ``text`` means, or ``ValueError`` naming it when it is not a Go duration."""
    value = text.strip()
    sign = -1.0 if value.startswith("-") else 1.0
    body = value[1:] if value[:1] in "+-" else value
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0:
        raise ValueError(f"invalid duration {text!r}")
    return sign * total


def duration_or(text: str, default: float) -> float:
    """``go_duration_seconds(text)``, or ``default`` for an empty or invalid value (settings are
    validated when saved; a sender must still start with an old or hand-edited value)."""
    try:
        return go_duration_seconds(text) if text.strip() else default
    except ValueError:
        return default


def positive(seconds: float, default: float) -> float:
    """``seconds``, or ``default`` when it is zero or less (a timeout of "0s" in listmonk's
    settings means its default, not "give up at once")."""
    return seconds if seconds > 0 else default
