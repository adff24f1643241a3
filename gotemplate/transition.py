"""html/template's context transitions (html/template/transition.go).

``transition(c, s)`` consumes template text from the front of s in context c and returns
the new context and how many characters it consumed; ``context_after_text`` does the
same for text inside attribute values, which it decodes first.
"""

from __future__ import annotations

import html as html_lib

from .context import (
    AFTER_NAME,
    ATTR,
    ATTR_NAME,
    ATTR_NONE,
    ATTR_SCRIPT,
    ATTR_SCRIPT_TYPE,
    ATTR_SRCSET,
    ATTR_START,
    ATTR_STYLE,
    ATTR_URL,
    BEFORE_VALUE,
    CSS,
    CSS_BLOCK_CMT,
    CSS_DQ_STR,
    CSS_DQ_URL,
    CSS_LINE_CMT,
    CSS_SQ_STR,
    CSS_SQ_URL,
    CSS_URL,
    DELIM_DQ,
    DELIM_ENDS,
    DELIM_NONE,
    DELIM_SPACE,
    DELIM_SQ,
    EL_NONE,
    EL_SCRIPT,
    EL_STYLE,
    EL_TEXTAREA,
    EL_TITLE,
    ELEMENT_BY_NAME,
    ELEMENT_CONTENT,
    ERROR,
    HTML_CMT,
    JS,
    JS_BLOCK_CMT,
    JS_BQ_STR,
    JS_DIV_OP,
    JS_DQ_STR,
    JS_HTML_CLOSE_CMT,
    JS_HTML_OPEN_CMT,
    JS_LINE_CMT,
    JS_REGEXP,
    JS_REGEXP_CTX,
    JS_SQ_STR,
    RCDATA,
    SRCSET,
    TAG,
    TEXT,
    URL,
    Context,
    EscapeError,
    attr_type,
    eat_space,
    error_ctx,
    t_url,
)
from .css import t_css, t_css_str
from .gostrings import go_quote


def _is_ascii_alpha(c: str) -> bool:
    return ("A" <= c <= "Z") or ("a" <= c <= "z")


def _is_ascii_alnum(c: str) -> bool:
    return _is_ascii_alpha(c) or ("0" <= c <= "9")


def eat_tag_name(s: str, i: int) -> tuple[int, int]:
    if i == len(s) or not _is_ascii_alpha(s[i]):
        return i, EL_NONE
    j = i + 1
    while j < len(s):
        x = s[j]
        if _is_ascii_alnum(x):
            j += 1
            continue
        if x in ":-" and j + 1 < len(s) and _is_ascii_alnum(s[j + 1]):
            j += 2
            continue
        break
    return j, ELEMENT_BY_NAME.get(s[i:j].lower(), EL_NONE)


def eat_attr_name(s: str, i: int) -> tuple[int, EscapeError | None]:
    for j in range(i, len(s)):
        c = s[j]
        if c in " \t\n\f\r=>":
            return j, None
        if c in "'\"<":
            return -1, EscapeError(f"{go_quote(c)} in attribute name: {go_quote(s[:32])}")
    return len(s), None


def t_text(c: Context, s: str) -> tuple[Context, int]:
    k = 0
    while True:
        i = s.find("<", k)
        if i < 0 or i + 1 == len(s):
            return c, len(s)
        if s.startswith("<!--", i):
            return Context(state=HTML_CMT), i + 4
        i += 1
        end = False
        if s[i] == "/":
            if i + 1 == len(s):
                return c, len(s)
            end, i = True, i + 1
        j, element = eat_tag_name(s, i)
        if j != i:
            return Context(state=TAG, element=EL_NONE if end else element), j
        k = j


def t_tag(c: Context, s: str) -> tuple[Context, int]:
    i = eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    if s[i] == ">":
        return Context(state=ELEMENT_CONTENT[c.element], element=c.element), i + 1
    j, err = eat_attr_name(s, i)
    if err is not None:
        return Context(state=ERROR, err=err), len(s)
    if i == j:
        return error_ctx("expected space, attr name, or end of tag, but got "
                         f"{go_quote(s[i:])}"), len(s)
    name = s[i:j].lower()
    attr = ATTR_NONE
    if c.element == EL_SCRIPT and name == "type":
        attr = ATTR_SCRIPT_TYPE
    else:
        attr = {"url": ATTR_URL, "css": ATTR_STYLE, "js": ATTR_SCRIPT,
                "srcset": ATTR_SRCSET}.get(attr_type(name), ATTR_NONE)
    state = ATTR_NAME if j == len(s) else AFTER_NAME
    return Context(state=state, element=c.element, attr=attr), j


def t_attr_name(c: Context, s: str) -> tuple[Context, int]:
    i, err = eat_attr_name(s, 0)
    if err is not None:
        return Context(state=ERROR, err=err), len(s)
    if i != len(s):
        c = c._replace(state=AFTER_NAME)
    return c, i


def t_after_name(c: Context, s: str) -> tuple[Context, int]:
    i = eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    if s[i] != "=":
        return c._replace(state=TAG), i
    return c._replace(state=BEFORE_VALUE), i + 1


def t_before_value(c: Context, s: str) -> tuple[Context, int]:
    i = eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    delim = DELIM_SPACE
    if s[i] == "'":
        delim, i = DELIM_SQ, i + 1
    elif s[i] == '"':
        delim, i = DELIM_DQ, i + 1
    return c._replace(state=ATTR_START[c.attr], delim=delim), i


def t_html_cmt(c: Context, s: str) -> tuple[Context, int]:
    i = s.find("-->")
    if i >= 0:
        return Context(), i + 3
    return c, len(s)


_END_MARKERS = {EL_SCRIPT: "script", EL_STYLE: "style", EL_TEXTAREA: "textarea",
                EL_TITLE: "title"}


def index_tag_end(s: str, tag: str) -> int:
    """Index of a case-insensitive ``</tag`` followed by a separator, or -1."""
    lower = s.lower()
    start = 0
    while True:
        i = lower.find("</" + tag, start)
        if i < 0:
            return -1
        after = i + 2 + len(tag)
        if after < len(s) and s[after] in "> \t\n\f/":
            return i
        start = i + 2


def t_special_tag_end(c: Context, s: str) -> tuple[Context, int]:
    if c.element != EL_NONE:
        i = index_tag_end(s, _END_MARKERS[c.element])
        if i != -1:
            return Context(), i
    return c, len(s)


def t_attr(c: Context, s: str) -> tuple[Context, int]:
    return c, len(s)


_REGEXP_PRECEDERS = {"break", "case", "continue", "delete", "do", "else", "finally", "in",
                     "instanceof", "return", "throw", "try", "typeof", "void"}


def _is_js_ident_part(c: str) -> bool:
    return c == "$" or c == "_" or _is_ascii_alnum(c)


def next_js_ctx(s: str, preceding: int) -> int:
    """Whether a '/' after the JS token run s starts a regexp or a division."""
    s = s.rstrip("\t\n\f\r \u2028\u2029")
    if not s:
        return preceding
    c, n = s[-1], len(s)
    if c in "+-":
        start = n - 1
        while start > 0 and s[start - 1] == c:
            start -= 1
        return JS_REGEXP_CTX if (n - start) & 1 else JS_DIV_OP
    if c == ".":
        return JS_DIV_OP if n != 1 and "0" <= s[n - 2] <= "9" else JS_REGEXP_CTX
    if c in ",<>=*%&|^?!~([:;{}":
        return JS_REGEXP_CTX
    j = n
    while j > 0 and _is_js_ident_part(s[j - 1]):
        j -= 1
    return JS_REGEXP_CTX if s[j:] in _REGEXP_PRECEDERS else JS_DIV_OP


def t_js(c: Context, s: str) -> tuple[Context, int]:
    i = next((k for k, ch in enumerate(s) if ch in "\"`'/<-#"), -1)
    if i == -1:
        return c._replace(js_ctx=next_js_ctx(s, c.js_ctx)), len(s)
    c = c._replace(js_ctx=next_js_ctx(s[:i], c.js_ctx))
    ch = s[i]
    if ch == '"':
        c = c._replace(state=JS_DQ_STR, js_ctx=JS_REGEXP_CTX)
    elif ch == "'":
        c = c._replace(state=JS_SQ_STR, js_ctx=JS_REGEXP_CTX)
    elif ch == "`":
        c = c._replace(state=JS_BQ_STR, js_ctx=JS_REGEXP_CTX)
    elif ch == "/":
        if s[i + 1:i + 2] == "/":
            c, i = c._replace(state=JS_LINE_CMT), i + 1
        elif s[i + 1:i + 2] == "*":
            c, i = c._replace(state=JS_BLOCK_CMT), i + 1
        elif c.js_ctx == JS_REGEXP_CTX:
            c = c._replace(state=JS_REGEXP)
        elif c.js_ctx == JS_DIV_OP:
            c = c._replace(js_ctx=JS_REGEXP_CTX)
        else:
            return error_ctx(
                f"'/' could start a division or regexp: {go_quote(s[i:i + 32])}"), len(s)
    elif ch == "<":
        if s.startswith("<!--", i):
            c, i = c._replace(state=JS_HTML_OPEN_CMT), i + 3
    elif ch == "-":
        if s.startswith("-->", i):
            c, i = c._replace(state=JS_HTML_CLOSE_CMT), i + 2
    elif ch == "#" and s[i + 1:i + 2] == "!":
        c, i = c._replace(state=JS_LINE_CMT), i + 1
    return c, i + 1


def t_js_delimited(c: Context, s: str) -> tuple[Context, int]:
    specials = {JS_SQ_STR: "\\'", JS_BQ_STR: "`\\", JS_REGEXP: "\\/[]"}.get(c.state, '\\"')
    k, in_charset = 0, False
    while True:
        i = next((x for x in range(k, len(s)) if s[x] in specials), -1)
        if i < 0:
            break
        ch = s[i]
        if ch == "\\":
            i += 1
            if i == len(s):
                return error_ctx(
                    f"unfinished escape sequence in JS string: {go_quote(s)}"), len(s)
        elif ch == "[":
            in_charset = True
        elif ch == "]":
            in_charset = False
        elif not in_charset:
            return c._replace(state=JS, js_ctx=JS_DIV_OP), i + 1
        k = i + 1
    if in_charset:
        return error_ctx(f"unfinished JS regexp charset: {go_quote(s)}"), len(s)
    return c, len(s)


def t_block_cmt(c: Context, s: str) -> tuple[Context, int]:
    i = s.find("*/")
    if i < 0:
        return c, len(s)
    return c._replace(state=JS if c.state == JS_BLOCK_CMT else CSS), i + 2


def t_line_cmt(c: Context, s: str) -> tuple[Context, int]:
    if c.state == CSS_LINE_CMT:
        terminators, end_state = "\n\f\r", CSS
    else:
        terminators, end_state = "\n\r\u2028\u2029", JS
    i = next((k for k, ch in enumerate(s) if ch in terminators), -1)
    if i < 0:
        return c, len(s)
    return c._replace(state=end_state), i


def t_error(c: Context, s: str) -> tuple[Context, int]:
    return c, len(s)


def transition(c: Context, s: str) -> tuple[Context, int]:
    """Consume text from the front of s in context c (Go's transitionFunc table)."""
    state = c.state
    if state == TEXT:
        return t_text(c, s)
    if state == TAG:
        return t_tag(c, s)
    if state == ATTR_NAME:
        return t_attr_name(c, s)
    if state == AFTER_NAME:
        return t_after_name(c, s)
    if state == BEFORE_VALUE:
        return t_before_value(c, s)
    if state == HTML_CMT:
        return t_html_cmt(c, s)
    if state == RCDATA:
        return t_special_tag_end(c, s)
    if state == ATTR:
        return t_attr(c, s)
    if state in (URL, SRCSET):
        return t_url(c, s)
    if state == JS:
        return t_js(c, s)
    if state in (JS_DQ_STR, JS_SQ_STR, JS_BQ_STR, JS_REGEXP):
        return t_js_delimited(c, s)
    if state in (JS_BLOCK_CMT, CSS_BLOCK_CMT):
        return t_block_cmt(c, s)
    if state in (JS_LINE_CMT, JS_HTML_OPEN_CMT, JS_HTML_CLOSE_CMT, CSS_LINE_CMT):
        return t_line_cmt(c, s)
    if state == CSS:
        return t_css(c, s)
    if state in (CSS_DQ_STR, CSS_SQ_STR, CSS_DQ_URL, CSS_SQ_URL, CSS_URL):
        return t_css_str(c, s)
    return t_error(c, s)


_JS_TYPES = {"application/ecmascript", "application/javascript", "application/json",
             "application/x-ecmascript", "application/x-javascript", "text/ecmascript",
             "text/javascript", "text/javascript1.0", "text/javascript1.1",
             "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
             "text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript",
             "text/x-javascript"}


def is_js_type(mime: str) -> bool:
    return mime.lower().split(";", 1)[0].strip() in _JS_TYPES


def context_after_text(c: Context, s: str) -> tuple[Context, int]:
    """Consume template text up to the next context change (attribute values decoded)."""
    if c.delim == DELIM_NONE:
        c1, i = t_special_tag_end(c, s)
        if i == 0:
            return c1, 0
        return transition(c, s[:i])
    ends = DELIM_ENDS[c.delim]
    i = next((k for k, ch in enumerate(s) if ch in ends), len(s))
    if c.delim == DELIM_SPACE:
        j = next((k for k in range(i) if s[k] in "\"'<=`"), -1)
        if j >= 0:
            return Context(state=ERROR, err=EscapeError(
                f"{go_quote(s[j])} in unquoted attr: {go_quote(s[:i])}")), len(s)
    if i == len(s):
        u = html_lib.unescape(s)
        while u:
            c1, i1 = transition(c, u)
            c, u = c1, u[i1:]
        return c, len(s)
    element = c.element
    if (c.state == ATTR and c.element == EL_SCRIPT and c.attr == ATTR_SCRIPT_TYPE
            and not is_js_type(s[:i])):
        element = EL_NONE
    if c.delim != DELIM_SPACE:
        i += 1
    return Context(state=TAG, element=element), i
