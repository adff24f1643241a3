"""CSS handling of html/template: context transitions inside <style> and style="", the CSS
string escaper and the CSS value filter (html/template/css.go and transition.go).
"""

from __future__ import annotations

from .context import (
    CSS,
    CSS_BLOCK_CMT,
    CSS_DQ_STR,
    CSS_DQ_URL,
    CSS_LINE_CMT,
    CSS_SQ_STR,
    CSS_SQ_URL,
    CSS_URL,
    Context,
    error_ctx,
    t_url,
)
from .gostrings import go_quote

FILTER_FAILSAFE = "ZgotmplZ"


def is_css_nmchar(c: str) -> bool:
    o = ord(c)
    return (("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "-_"
            or 0x80 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or 0x10000 <= o <= 0x10FFFF)


def ends_with_css_keyword(b: str, kw: str) -> bool:
    i = len(b) - len(kw)
    if i < 0:
        return False
    if i != 0 and is_css_nmchar(b[i - 1]):
        return False
    return b[i:].lower() == kw


def _is_hex(c: str) -> bool:
    return c in "0123456789abcdefABCDEF" and c != ""


def decode_css(s: str) -> str:
    """Decode CSS3 escapes in a run of string characters."""
    if "\\" not in s:
        return s
    out: list[str] = []
    while s:
        i = s.find("\\")
        if i < 0:
            i = len(s)
        out.append(s[:i])
        s = s[i:]
        if len(s) < 2:
            break
        if _is_hex(s[1]):
            j = 2
            while j < len(s) and j < 7 and _is_hex(s[j]):
                j += 1
            r = int(s[1:j], 16)
            if r > 0x10FFFF:
                r, j = r // 16, j - 1
            out.append(chr(r) if not 0xD800 <= r <= 0xDFFF else "\ufffd")
            s = s[j:]
            if s[:2] == "\r\n":
                s = s[2:]
            elif s[:1] in ("\t", "\n", "\f", " ", "\r") and s:
                s = s[1:]
        else:
            out.append(s[1])
            s = s[2:]
    return "".join(out)


def t_css(c: Context, s: str) -> tuple[Context, int]:
    k = 0
    while True:
        i = next((x for x in range(k, len(s)) if s[x] in "(\"'/"), -1)
        if i < 0:
            return c, len(s)
        ch = s[i]
        if ch == "(":
            p = s[:i].rstrip("\t\n\f\r ")
            if ends_with_css_keyword(p, "url"):
                rest = s[i + 1:].lstrip("\t\n\f\r ")
                j = len(s) - len(rest)
                if rest[:1] == '"':
                    return c._replace(state=CSS_DQ_URL), j + 1
                if rest[:1] == "'":
                    return c._replace(state=CSS_SQ_URL), j + 1
                return c._replace(state=CSS_URL), j
        elif ch == "/":
            if s[i + 1:i + 2] == "/":
                return c._replace(state=CSS_LINE_CMT), i + 2
            if s[i + 1:i + 2] == "*":
                return c._replace(state=CSS_BLOCK_CMT), i + 2
        elif ch == '"':
            return c._replace(state=CSS_DQ_STR), i + 1
        elif ch == "'":
            return c._replace(state=CSS_SQ_STR), i + 1
        k = i + 1


def t_css_str(c: Context, s: str) -> tuple[Context, int]:
    if c.state in (CSS_DQ_STR, CSS_DQ_URL):
        end_and_esc = '\\"'
    elif c.state in (CSS_SQ_STR, CSS_SQ_URL):
        end_and_esc = "\\'"
    else:
        end_and_esc = "\\\t\n\f\r )"
    k = 0
    while True:
        i = next((x for x in range(k, len(s)) if s[x] in end_and_esc), -1)
        if i < 0:
            c2, _ = t_url(c, decode_css(s[k:]))
            return c2, len(s)
        if s[i] == "\\":
            i += 1
            if i == len(s):
                return error_ctx(
                    f"unfinished escape sequence in CSS string: {go_quote(s)}"), len(s)
        else:
            return c._replace(state=CSS), i + 1
        c, _ = t_url(c, decode_css(s[:i + 1]))
        k = i + 1


_CSS_REPLACEMENTS = {
    "\0": "\\0", "\t": "\\9", "\n": "\\a", "\f": "\\c", "\r": "\\d", '"': "\\22",
    "&": "\\26", "'": "\\27", "(": "\\28", ")": "\\29", "+": "\\2b", "/": "\\2f",
    ":": "\\3a", ";": "\\3b", "<": "\\3c", ">": "\\3e", "\\": "\\\\", "{": "\\7b",
    "}": "\\7d",
}


def css_escape(s: str) -> str:
    """Escape HTML and CSS specials with \\<hex> escapes."""
    out: list[str] = []
    n = len(s)
    for i, ch in enumerate(s):
        repl = _CSS_REPLACEMENTS.get(ch)
        if repl is None:
            out.append(ch)
            continue
        out.append(repl)
        if repl != "\\\\" and (i + 1 == n or _is_hex(s[i + 1]) or s[i + 1] in "\t\n\f\r "):
            out.append(" ")
    return "".join(out)


def css_value_filter_text(s: str) -> str:
    """Allow innocuous CSS values (10px, #fff, bold); anything else becomes ZgotmplZ."""
    b = decode_css(s)
    ident: list[str] = []
    for i, ch in enumerate(b):
        if ch in "\0\"'()/;@[\\]`{}":
            return FILTER_FAILSAFE
        if ch == "-":
            if i != 0 and b[i - 1] == "-":
                return FILTER_FAILSAFE
        elif ord(ch) < 0x80 and is_css_nmchar(ch):
            ident.append(ch)
    lowered = "".join(ident).lower()
    if "expression" in lowered or "mozbinding" in lowered:
        return FILTER_FAILSAFE
    return b
