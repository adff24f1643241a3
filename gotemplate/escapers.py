"""The escaping functions html/template inserts into pipelines (html.go, url.go, js.go).

Each takes the pipeline value(s) and returns text safe for one context: HTML text,
quoted or unquoted attribute values, URLs (scheme filter, normaliser, query escaper),
srcset, JavaScript values/strings/regexps, CSS strings/values, and comments (dropped).
Typed trusted content (HTML, URL, JS, ...) passes through where its type fits.
"""

from __future__ import annotations

import re
from typing import Any

from .context import (
    DELIM_ENDS,
    DELIM_NONE,
    DELIM_SPACE,
    EL_NONE,
    IN_TAG_STATES,
    RCDATA,
    TAG,
    TEXT,
    Context,
    attr_type,
)
from .css import FILTER_FAILSAFE, css_escape, css_value_filter_text
from .evaluate import FuncEntry
from .funcs_builtin import eval_args
from .gofmt import sprint, stringer
from .gojson import MarshalError, marshal
from .transition import transition
from .values import CSS, HTML, JS, URL, HTMLAttr, JSStr, Signature, Srcset


def stringify(*args: Any) -> tuple[str, type]:
    """The text of the arguments and their content type (str when untrusted)."""
    if len(args) == 1:
        a = args[0]
        if type(a) in (HTML, CSS, HTMLAttr, JS, JSStr, URL, Srcset):
            return str(a), type(a)
        if isinstance(a, str):
            return str(a), str
    return sprint(*(a for a in args if a is not None)), str


_HTML_TABLE = {"\0": "\ufffd", '"': "&#34;", "&": "&amp;", "'": "&#39;", "+": "&#43;",
               "<": "&lt;", ">": "&gt;"}
_HTML_NORM_TABLE = {k: v for k, v in _HTML_TABLE.items() if k != "&"}
_NOSPACE_TABLE = {"\0": "&#xfffd;", "\t": "&#9;", "\n": "&#10;", "\v": "&#11;",
                  "\f": "&#12;", "\r": "&#13;", " ": "&#32;", '"': "&#34;", "&": "&amp;",
                  "'": "&#39;", "+": "&#43;", "<": "&lt;", "=": "&#61;", ">": "&gt;",
                  "`": "&#96;"}
_NOSPACE_NORM_TABLE = {k: v for k, v in _NOSPACE_TABLE.items() if k != "&"}


_TABLE_RES: dict[int, re.Pattern[str]] = {}


def html_replace(s: str, table: dict[str, str], bad_runes: bool) -> str:
    pattern = _TABLE_RES.get(id(table))
    if pattern is None:
        pattern = _TABLE_RES[id(table)] = re.compile(
            "[" + "".join(re.escape(k) for k in table) + "\ufdd0-\ufdef\ufff0-\uffff]")
    if not pattern.search(s):
        return s
    if bad_runes:
        return "".join(table.get(c, c) for c in s)
    out = []
    for ch in s:
        repl = table.get(ch)
        if repl is not None:
            out.append(repl)
        elif not bad_runes and (0xFDD0 <= ord(ch) <= 0xFDEF or 0xFFF0 <= ord(ch) <= 0xFFFF):
            out.append(f"&#x{ord(ch):x};")
        else:
            out.append(ch)
    return "".join(out)


def strip_tags(html: str) -> str:
    """The text content of an HTML snippet (used when trusted HTML lands in an attribute)."""
    out: list[str] = []
    c, i, all_text = Context(), 0, True
    s = html
    while i != len(s):
        if c.delim == DELIM_NONE:
            st = c
            if c.element != EL_NONE and c.state not in IN_TAG_STATES:
                st = c._replace(state=RCDATA)
            d, nread = transition(st, s[i:])
            i1 = i + nread
            if c.state in (TEXT, RCDATA):
                j = i1
                if d.state != c.state:
                    k = s.rfind("<", i, j)
                    if k >= 0:
                        j = k
                out.append(s[i:j])
            else:
                all_text = False
            c, i = d, i1
            continue
        ends = DELIM_ENDS[c.delim]
        i1 = next((k for k in range(i, len(s)) if s[k] in ends), -1)
        if i1 < 0:
            break
        if c.delim != DELIM_SPACE:
            i1 += 1
        c, i = Context(state=TAG, element=c.element), i1
    if all_text:
        return html
    if c.state in (TEXT, RCDATA):
        out.append(s[i:])
    return "".join(out)


def html_escaper(*args: Any) -> str:
    s, t = stringify(*args)
    return s if t is HTML else html_replace(s, _HTML_TABLE, True)


def attr_escaper(*args: Any) -> str:
    s, t = stringify(*args)
    if t is HTML:
        return html_replace(strip_tags(s), _HTML_NORM_TABLE, True)
    return html_replace(s, _HTML_TABLE, True)


def rcdata_escaper(*args: Any) -> str:
    s, t = stringify(*args)
    return html_replace(s, _HTML_NORM_TABLE if t is HTML else _HTML_TABLE, True)


def nospace_escaper(*args: Any) -> str:
    s, t = stringify(*args)
    if t is HTML:
        return html_replace(strip_tags(s), _NOSPACE_NORM_TABLE, False)
    return html_replace(s, _NOSPACE_TABLE, False)


def html_name_filter(*args: Any) -> str:
    s, t = stringify(*args)
    if t is HTMLAttr:
        return s
    if not s:
        return FILTER_FAILSAFE
    s = s.lower()
    if attr_type(s) != "plain":
        return FILTER_FAILSAFE
    if not all("0" <= c <= "9" or "a" <= c <= "z" for c in s):
        return FILTER_FAILSAFE
    return s


def comment_escaper(*args: Any) -> str:
    return ""


def is_safe_url(s: str) -> bool:
    protocol, sep, _ = s.partition(":")
    if sep and "/" not in protocol:
        return protocol.lower() in ("http", "https", "mailto")
    return True


def url_filter(*args: Any) -> str:
    s, t = stringify(*args)
    if t is URL:
        return s
    return s if is_safe_url(s) else "#" + FILTER_FAILSAFE


_URL_RESERVED = set("!#$&*+,/:;=?@[]")
_HEXDIGITS = set("0123456789abcdefABCDEF")
_URL_UNRESERVED = set("-._~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


_NORM_SAFE = re.compile(r"[A-Za-z0-9\-._~!#$&*+,/:;=?@\[\]]*")
_ESC_SAFE = re.compile(r"[A-Za-z0-9\-._~]*")


def process_url(s: str, norm: bool) -> str:
    """Percent-encode a URL (norm keeps reserved characters and valid escapes)."""
    if (_NORM_SAFE if norm else _ESC_SAFE).fullmatch(s):
        return s
    data = s.encode()
    out = []
    for i, b in enumerate(data):
        c = chr(b)
        if c in _URL_RESERVED:
            if norm:
                out.append(c)
                continue
        elif c in _URL_UNRESERVED or (
                c == "%" and norm and i + 2 < len(data) and chr(data[i + 1]) in _HEXDIGITS
                and chr(data[i + 2]) in _HEXDIGITS):
            out.append(c)
            continue
        out.append(f"%{b:02x}")
    return "".join(out)


def url_escaper(*args: Any) -> str:
    s, t = stringify(*args)
    return process_url(s, t is URL)


def url_normalizer(*args: Any) -> str:
    s, _ = stringify(*args)
    return process_url(s, True)


def _is_html_space(c: str) -> bool:
    return c in "\t\n\f\r "


def _filter_srcset_element(s: str) -> str:
    start = 0
    while start < len(s) and _is_html_space(s[start]):
        start += 1
    end = len(s)
    for i in range(start, len(s)):
        if _is_html_space(s[i]):
            end = i
            break
    url = s[start:end]
    if is_safe_url(url):
        metadata = s[end:]
        if all(_is_html_space(c) or (c.isascii() and c.isalnum()) for c in metadata):
            return s[:start] + process_url(url, True) + metadata
    return "#" + FILTER_FAILSAFE


def srcset_escaper(*args: Any) -> str:
    s, t = stringify(*args)
    if t is Srcset:
        return s
    if t is URL:
        return process_url(s, True).replace(",", "%2c")
    return ",".join(_filter_srcset_element(part) for part in s.split(","))


# -- JavaScript --------------------------------------------------------------------------

_JS_STR_TABLE = {"\0": "\\u0000", "\t": "\\t", "\n": "\\n", "\v": "\\u000b", "\f": "\\f",
                 "\r": "\\r", '"': "\\u0022", "`": "\\u0060", "&": "\\u0026",
                 "'": "\\u0027", "+": "\\u002b", "/": "\\/", "<": "\\u003c", ">": "\\u003e",
                 "\\": "\\\\", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_JS_STR_NORM_TABLE = {k: v for k, v in _JS_STR_TABLE.items() if k != "\\"}
_JS_REGEXP_TABLE = {**_JS_STR_TABLE, "$": "\\$", "(": "\\(", ")": "\\)", "*": "\\*",
                    "-": "\\-", ".": "\\.", "?": "\\?", "[": "\\[", "]": "\\]", "^": "\\^",
                    "{": "\\{", "|": "\\|", "}": "\\}"}


def _js_ident_part(c: str) -> bool:
    return c == "$" or c == "_" or (c.isascii() and c.isalnum())


def js_val_escaper(*args: Any) -> str:
    if len(args) == 1:
        a = args[0]
        if type(a) is JS:
            return str(a)
        if type(a) is JSStr:
            return '"' + str(a) + '"'
        text = stringer(a)
        if text is not None and not hasattr(a, "isoformat"):
            a = text
    else:
        a = sprint(*args)
    try:
        b = marshal(a)
    except MarshalError as exc:
        return " /* " + str(exc).replace("*/", "* /") + " */null "
    if not b:
        return " null "
    b = b.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if _js_ident_part(b[0]) or _js_ident_part(b[-1]):
        return " " + b + " "
    return b


def js_str_escaper(*args: Any) -> str:
    s, t = stringify(*args)
    table = _JS_STR_NORM_TABLE if t is JSStr else _JS_STR_TABLE
    return "".join(table.get(c, c) for c in s)


def js_regexp_escaper(*args: Any) -> str:
    s, _ = stringify(*args)
    out = "".join(_JS_REGEXP_TABLE.get(c, c) for c in s)
    return out or "(?:)"


def css_escaper(*args: Any) -> str:
    s, _ = stringify(*args)
    return css_escape(s)


def css_value_filter(*args: Any) -> str:
    s, t = stringify(*args)
    return s if t is CSS else css_value_filter_text(s)


_ANY = Signature((), "any")
_FUNCS = {
    "_html_template_attrescaper": attr_escaper,
    "_html_template_commentescaper": comment_escaper,
    "_html_template_cssescaper": css_escaper,
    "_html_template_cssvaluefilter": css_value_filter,
    "_html_template_htmlnamefilter": html_name_filter,
    "_html_template_htmlescaper": html_escaper,
    "_html_template_jsregexpescaper": js_regexp_escaper,
    "_html_template_jsstrescaper": js_str_escaper,
    "_html_template_jsvalescaper": js_val_escaper,
    "_html_template_nospaceescaper": nospace_escaper,
    "_html_template_rcdataescaper": rcdata_escaper,
    "_html_template_srcsetescaper": srcset_escaper,
    "_html_template_urlescaper": url_escaper,
    "_html_template_urlfilter": url_filter,
    "_html_template_urlnormalizer": url_normalizer,
    "_eval_args_": eval_args,
}
ESCAPERS: dict[str, FuncEntry] = {
    name: FuncEntry(name, fn, _ANY, builtin=True, escaper=True)
    for name, fn in _FUNCS.items()
}
