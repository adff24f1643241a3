"""Go's fmt package as templates see it: Sprint, Sprintln and Sprintf over Go-like values.

Output matches Go for the verbs newsletters use (%v %+v %s %q %d %f %e %g %x %X %o %b %c
%t %U %T %%, widths, precisions and the ``+ - # 0 space`` flags), including Go's error
forms such as ``%!d(string=hi)``, ``%!s(MISSING)`` and ``%!(EXTRA int=1)``, and Go's
default formats: ``[a b]`` for lists, ``map[a:1]`` for maps, ``<nil>`` for nil and
shortest ``%g`` floats (``1e+06``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any
from uuid import UUID

from .gostrings import go_quote
from .values import MISSING, exposed_members, go_type_name, is_method


@dataclass(slots=True)
class Spec:
    """One verb's flags, width and precision."""

    verb: str = "v"
    plus: bool = False
    minus: bool = False
    sharp: bool = False
    space: bool = False
    zero: bool = False
    width: int | None = None
    prec: int | None = None


DEFAULT = Spec()


# ---------------------------------------------------------------------------------------
# Floats.

_CTX = Context(prec=2000, rounding=ROUND_HALF_EVEN)


def _digits(v: float, sig: int | None) -> tuple[str, int]:
    """Decimal digits and decimal-point position of |v|: shortest, or rounded to sig digits."""
    if v == 0:
        return "0", 1
    if sig is None:
        d = Decimal(repr(abs(v)))
    else:
        d = Decimal(abs(v))
        exp = d.adjusted() - sig + 1
        d = _CTX.quantize(d, Decimal(1).scaleb(exp))
    tup = d.as_tuple()
    assert isinstance(tup.exponent, int)
    stripped = "".join(map(str, tup.digits)).lstrip("0")
    return stripped.rstrip("0") or "0", len(stripped) + tup.exponent


def _fmt_e(neg: bool, digits: str, dp: int, prec: int, upper: bool) -> str:
    mant = digits[0] + ("." + digits[1:].ljust(prec, "0")[:prec] if prec > 0 else "")
    exp = dp - 1 if digits != "0" else 0
    e = "E" if upper else "e"
    return ("-" if neg else "") + mant + e + ("-" if exp < 0 else "+") + f"{abs(exp):02d}"


def _fmt_f(neg: bool, digits: str, dp: int, prec: int) -> str:
    if dp <= 0:
        int_part = "0"
        frac = "0" * (-dp) + digits
    else:
        int_part = digits[:dp].ljust(dp, "0")
        frac = digits[dp:]
    frac = frac.ljust(prec, "0")[:prec]
    return ("-" if neg else "") + int_part + ("." + frac if prec > 0 else "")


def format_float(v: float, verb: str = "g", prec: int | None = None) -> str:
    """strconv.FormatFloat(v, verb, prec, 64); prec None means shortest."""
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    neg = v < 0 or (v == 0 and str(v).startswith("-"))
    lower = verb.lower()
    if lower == "f":
        if prec is None:
            digits, dp = _digits(v, None)
            return _fmt_f(neg, digits, dp, max(len(digits) - dp, 0))
        q = _CTX.quantize(Decimal(abs(v)), Decimal(1).scaleb(-prec))
        text = f"{q:f}"
        return ("-" if neg else "") + text
    if lower == "e":
        if prec is None:
            digits, dp = _digits(v, None)
            return _fmt_e(neg, digits, dp, len(digits) - 1, verb == "E")
        digits, dp = _digits(v, prec + 1)
        return _fmt_e(neg, digits, dp, prec, verb == "E")
    # 'g'
    if prec is None:
        digits, dp = _digits(v, None)
        eprec = 6
        p = len(digits)
    else:
        p = prec or 1
        digits, dp = _digits(v, p)
        eprec = p
        if eprec > len(digits) and len(digits) >= dp:
            eprec = len(digits)
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        p = min(p, len(digits))
        return _fmt_e(neg, digits, dp, p - 1, verb == "G")
    if p > dp:
        p = len(digits)
    return _fmt_f(neg, digits, dp, max(p - dp, 0))


# ---------------------------------------------------------------------------------------
# Values.

def time_string(t: datetime) -> str:
    """Go's time.Time.String(): ``2006-01-02 15:04:05.999999999 -0700 MST``."""
    from .gotime import format_time

    return format_time(t, "2006-01-02 15:04:05.999999999 -0700 MST")


def struct_fields(value: object) -> list[tuple[str, Any]]:
    """The exposed data fields of a struct, in declaration order where known."""
    names = exposed_members(type(value))
    if is_dataclass(value):
        order = [f.name for f in fields(value) if f.name in names]
    else:
        order = sorted(names)
    return [(n, getattr(value, n)) for n in order if not is_method(value, n)]


def stringer(value: object) -> str | None:
    """The String() form of values that have one (time, Month, custom go_string)."""
    if isinstance(value, datetime):
        return time_string(value)
    method = getattr(value, "go_string", None)
    if callable(method) and not isinstance(value, type):
        return str(method())
    return None


def fmt_value(v: Any, spec: Spec = DEFAULT, depth: int = 0) -> str:
    """Format one value for a verb, Go style (verb 'v' gives Go's default format)."""
    if depth > 64:
        raise ValueError("value nested too deeply to print")
    verb = spec.verb
    if v is None or v is MISSING:
        return pad("<nil>", spec) if verb in "vT" else f"%!{verb}(<nil>)"
    if verb == "T":
        return pad(go_type_name(v), spec)
    s = stringer(v)
    if s is not None and verb in "vsqxX":
        return fmt_string(s, spec)
    if isinstance(v, bool):
        if verb in "vt":
            return pad("true" if v else "false", spec)
        return bad_verb(v, spec)
    if isinstance(v, int):
        return fmt_int(v, spec)
    if isinstance(v, float):
        return fmt_float(v, spec)
    if isinstance(v, str):
        return fmt_string(v, spec)
    if isinstance(v, Decimal):
        return fmt_float(float(v), spec)
    if isinstance(v, UUID | date):
        return fmt_string(str(v), spec)
    sub = replace(spec, width=None)
    if isinstance(v, list | tuple):
        return pad("[" + " ".join(fmt_value(x, sub, depth + 1) for x in v) + "]", spec)
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: sort_key(kv[0]))
        body = " ".join(fmt_value(k, sub, depth + 1) + ":" + fmt_value(x, sub, depth + 1)
                        for k, x in items)
        return pad("map[" + body + "]", spec)
    if callable(v):
        return pad("0x" + format(id(v), "x"), spec)
    parts = []
    for name, x in struct_fields(v):
        text = fmt_value(x, sub, depth + 1)
        parts.append(f"{name}:{text}" if spec.plus and verb == "v" else text)
    return pad("{" + " ".join(parts) + "}", spec)


def sort_key(key: Any) -> tuple[int, Any]:
    """fmtsort order: numbers numerically, strings bytewise, others by text."""
    if isinstance(key, bool):
        return (0, int(key))
    if isinstance(key, int | float):
        return (1, key)
    if isinstance(key, str):
        return (2, key)
    return (3, str(key))


def bad_verb(v: Any, spec: Spec) -> str:
    return f"%!{spec.verb}({go_type_name(v)}={fmt_value(v)})"


def pad(s: str, spec: Spec, zero_ok: bool = False) -> str:
    if spec.width is None or len(s) >= spec.width:
        return s
    fill = spec.width - len(s)
    if spec.minus:
        return s + " " * fill
    if spec.zero and zero_ok:
        sign = s[0] if s[:1] in ("-", "+", " ") else ""
        return sign + "0" * fill + s[len(sign):]
    return " " * fill + s


def _sign(neg: bool, spec: Spec) -> str:
    if neg:
        return "-"
    return "+" if spec.plus else (" " if spec.space else "")


def fmt_int(n: int, spec: Spec) -> str:
    verb = spec.verb
    if verb == "c":
        return pad(chr(n) if 0 <= n <= 0x10FFFF else "\ufffd", spec)
    if verb == "q":
        return pad(go_quote_rune(n), spec)
    if verb == "U":
        text = f"U+{n:04X}"
        if spec.sharp and 0 <= n <= 0x10FFFF:
            text += f" '{chr(n)}'"
        return pad(text, spec)
    bases = {"d": (10, ""), "v": (10, ""), "x": (16, "0x"), "X": (16, "0X"),
             "o": (8, "0"), "O": (8, "0o"), "b": (2, "0b")}
    if verb not in bases:
        return bad_verb(n, spec)
    base, prefix = bases[verb]
    digits = str(abs(n)) if base == 10 else format(abs(n), {16: "x", 8: "o", 2: "b"}[base])
    if verb == "X":
        digits = digits.upper()
    if spec.prec is not None:
        digits = "" if spec.prec == 0 and n == 0 else digits.rjust(spec.prec, "0")
    wants_prefix = verb == "O" or (spec.sharp and verb in "xXob")
    if wants_prefix and not (verb == "o" and digits.startswith("0")):
        digits = prefix + digits
    return pad(_sign(n < 0, spec) + digits, spec, zero_ok=spec.prec is None and not spec.minus)


def go_quote_rune(n: int) -> str:
    if not 0 <= n <= 0x10FFFF:
        n = 0xFFFD
    ch = chr(n)
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + go_quote(ch)[1:-1] + "'"


def fmt_float(f: float, spec: Spec) -> str:
    verb = spec.verb
    if verb == "v":
        text = format_float(f, "g", spec.prec)
    elif verb in "eEfFgG":
        prec = spec.prec if spec.prec is not None else (None if verb in "gG" else 6)
        text = format_float(f, "f" if verb == "F" else verb, prec)
    else:
        return bad_verb(f, spec)
    if text[0] not in "+-":
        text = _sign(False, spec) + text
    return pad(text, spec, zero_ok=not spec.minus and "Inf" not in text and "NaN" not in text)


def fmt_string(s: str, spec: Spec) -> str:
    verb = spec.verb
    if spec.prec is not None and verb in "svqxX":
        s = s[:spec.prec]
    if verb in "sv":
        return pad(s, spec)
    if verb == "q":
        if spec.sharp and "`" not in s and all(c == "\t" or c >= " " for c in s):
            return pad("`" + s + "`", spec)
        quoted = go_quote(s)
        if spec.plus:
            quoted = "".join(c if ord(c) < 0x80 else (
                f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}") for c in quoted)
        return pad(quoted, spec)
    if verb in "xX":
        data = s.encode()
        fmt_ = "{:02x}" if verb == "x" else "{:02X}"
        sep = " " if spec.space else ""
        prefix = ("0x" if verb == "x" else "0X") if spec.sharp else ""
        return pad(sep.join(prefix + fmt_.format(b) for b in data) if sep else
                   prefix + "".join(fmt_.format(b) for b in data), spec)
    return bad_verb(s, spec)


# ---------------------------------------------------------------------------------------
# Print functions.

def sprint(*args: Any) -> str:
    """fmt.Sprint: spaces between operands when neither is a string."""
    out: list[str] = []
    prev_string = False
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(fmt_value(a))
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any) -> str:
    """fmt.Sprintln: operands separated by spaces, newline appended."""
    return " ".join(fmt_value(a) for a in args) + "\n"


def sprintf(fmt: str, *args: Any, max_width: int = 1 << 20) -> str:
    """fmt.Sprintf with Go's verbs and error forms; widths are capped at max_width."""
    out: list[str] = []
    argi = 0
    i, n = 0, len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = Spec()
        while i < n and fmt[i] in "+-# 0":
            flag = fmt[i]
            if flag == "+":
                spec.plus = True
            elif flag == "-":
                spec.minus = True
                spec.zero = False
            elif flag == "#":
                spec.sharp = True
            elif flag == " ":
                spec.space = True
            else:
                spec.zero = not spec.minus
            i += 1
        if i < n and fmt[i] == "*":
            i += 1
            width_arg = args[argi] if argi < len(args) else None
            if isinstance(width_arg, int) and not isinstance(width_arg, bool):
                spec.width = width_arg
                if spec.width < 0:
                    spec.minus, spec.width = True, -spec.width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                spec.width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int):
                    spec.prec = args[argi] if args[argi] >= 0 else None
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                spec.prec = int(fmt[start:i]) if i > start else 0
        if (spec.width or 0) > max_width or (spec.prec or 0) > max_width:
            raise ValueError("format width or precision too large")
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        spec.verb = verb
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if verb == "v" and spec.sharp:
            spec.sharp = False
        out.append(fmt_value(arg, spec))
    if argi < len(args):
        extra = ", ".join(f"{go_type_name(a)}={fmt_value(a)}" if a is not None and a is not MISSING
                          else "<nil>" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
