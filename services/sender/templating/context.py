"""html/template's model of where output lands in an HTML document, and its transitions.

A Context says what the HTML parser would be doing at a point of the output (in text, in
a tag, in a quoted URL attribute, in a <script> string, ...). ``transition(c, s)``
consumes template text from the front of s and returns the new context and how many
characters it consumed, following Go's html/template/transition.go.
"""

from __future__ import annotations

from typing import NamedTuple

from .lexer import go_quote

# States.
(TEXT, TAG, ATTR_NAME, AFTER_NAME, BEFORE_VALUE, HTML_CMT, RCDATA, ATTR, URL, SRCSET, JS,
 JS_DQ_STR, JS_SQ_STR, JS_BQ_STR, JS_REGEXP, JS_BLOCK_CMT, JS_LINE_CMT, JS_HTML_OPEN_CMT,
 JS_HTML_CLOSE_CMT, CSS, CSS_DQ_STR, CSS_SQ_STR, CSS_DQ_URL, CSS_SQ_URL, CSS_URL,
 CSS_BLOCK_CMT, CSS_LINE_CMT, ERROR, DEAD) = range(29)
STATE_NAMES = [
    "stateText", "stateTag", "stateAttrName", "stateAfterName", "stateBeforeValue",
    "stateHTMLCmt", "stateRCDATA", "stateAttr", "stateURL", "stateSrcset", "stateJS",
    "stateJSDqStr", "stateJSSqStr", "stateJSBqStr", "stateJSRegexp", "stateJSBlockCmt",
    "stateJSLineCmt", "stateJSHTMLOpenCmt", "stateJSHTMLCloseCmt", "stateCSS",
    "stateCSSDqStr", "stateCSSSqStr", "stateCSSDqURL", "stateCSSSqURL", "stateCSSURL",
    "stateCSSBlockCmt", "stateCSSLineCmt", "stateError", "stateDead",
]
# Delimiters of attribute values.
DELIM_NONE, DELIM_DQ, DELIM_SQ, DELIM_SPACE = range(4)
DELIM_NAMES = ["delimNone", "delimDoubleQuote", "delimSingleQuote", "delimSpaceOrTagEnd"]
DELIM_ENDS = {DELIM_DQ: '"', DELIM_SQ: "'", DELIM_SPACE: " \t\n\f\r>"}
# URL parts.
URL_NONE, URL_PRE_QUERY, URL_QUERY_OR_FRAG, URL_UNKNOWN = range(4)
URL_NAMES = ["urlPartNone", "urlPartPreQuery", "urlPartQueryOrFrag", "urlPartUnknown"]
# Whether a '/' in JS starts a regexp or a division.
JS_REGEXP_CTX, JS_DIV_OP, JS_UNKNOWN = range(3)
JSCTX_NAMES = ["jsCtxRegexp", "jsCtxDivOp", "jsCtxUnknown"]
# Attribute kinds.
ATTR_NONE, ATTR_SCRIPT, ATTR_SCRIPT_TYPE, ATTR_STYLE, ATTR_URL, ATTR_SRCSET = range(6)
ATTR_NAMES = ["attrNone", "attrScript", "attrScriptType", "attrStyle", "attrURL", "attrSrcset"]
# Special elements.
EL_NONE, EL_SCRIPT, EL_STYLE, EL_TEXTAREA, EL_TITLE = range(5)
ELEMENT_NAMES = ["elementNone", "elementScript", "elementStyle", "elementTextarea",
                 "elementTitle"]
ELEMENT_BY_NAME = {"script": EL_SCRIPT, "style": EL_STYLE, "textarea": EL_TEXTAREA,
                   "title": EL_TITLE}
ELEMENT_CONTENT = {EL_NONE: TEXT, EL_SCRIPT: JS, EL_STYLE: CSS, EL_TEXTAREA: RCDATA,
                   EL_TITLE: RCDATA}
ATTR_START = {ATTR_NONE: ATTR, ATTR_SCRIPT: JS, ATTR_SCRIPT_TYPE: ATTR, ATTR_STYLE: CSS,
              ATTR_URL: URL, ATTR_SRCSET: SRCSET}
COMMENT_STATES = {HTML_CMT, JS_BLOCK_CMT, JS_LINE_CMT, JS_HTML_OPEN_CMT, JS_HTML_CLOSE_CMT,
                  CSS_BLOCK_CMT, CSS_LINE_CMT}
IN_TAG_STATES = {TAG, ATTR_NAME, AFTER_NAME, BEFORE_VALUE, ATTR}


class EscapeError(Exception):
    """A template whose output cannot be escaped safely (html/template's *Error)."""

    def __init__(self, description: str, node: object = None, line: int = 0) -> None:
        super().__init__(description)
        self.description = description
        self.node = node
        self.line = line


class Context(NamedTuple):
    state: int = TEXT
    delim: int = DELIM_NONE
    url_part: int = URL_NONE
    js_ctx: int = JS_REGEXP_CTX
    attr: int = ATTR_NONE
    element: int = EL_NONE
    err: EscapeError | None = None

    def describe(self) -> str:
        err = "<nil>" if self.err is None else str(self.err)
        return (f"{{{STATE_NAMES[self.state]} {DELIM_NAMES[self.delim]} "
                f"{URL_NAMES[self.url_part]} {JSCTX_NAMES[self.js_ctx]} "
                f"{ATTR_NAMES[self.attr]} {ELEMENT_NAMES[self.element]} {err}}}")

    def mangle(self, name: str) -> str:
        """The name of the copy of template name escaped for this start context."""
        if self.state == TEXT:
            return name
        s = name + "$htmltemplate_" + STATE_NAMES[self.state]
        if self.delim != DELIM_NONE:
            s += "_" + DELIM_NAMES[self.delim]
        if self.url_part != URL_NONE:
            s += "_" + URL_NAMES[self.url_part]
        if self.js_ctx != JS_REGEXP_CTX:
            s += "_" + JSCTX_NAMES[self.js_ctx]
        if self.attr != ATTR_NONE:
            s += "_" + ATTR_NAMES[self.attr]
        if self.element != EL_NONE:
            s += "_" + ELEMENT_NAMES[self.element]
        return s


def error_ctx(message: str) -> Context:
    return Context(state=ERROR, err=EscapeError(message))


# ---------------------------------------------------------------------------------------
# Attribute types (html/template/attr.go).

_URL_ATTRS = {"action", "archive", "background", "cite", "classid", "codebase", "data",
              "formaction", "href", "icon", "longdesc", "manifest", "poster", "profile",
              "src", "usemap", "xmlns"}
_UNSAFE_ATTRS = {"accept-charset", "async", "challenge", "charset", "content", "crossorigin",
                 "defer", "enctype", "form", "formenctype", "formmethod", "formnovalidate",
                 "http-equiv", "keytype", "language", "method", "novalidate", "pattern", "rel",
                 "sandbox", "type", "value"}
_PLAIN_ATTRS = {"accept", "alt", "autocomplete", "autofocus", "autoplay", "border", "checked",
                "class", "cols", "colspan", "contenteditable", "contextmenu", "controls",
                "coords", "datetime", "default", "dir", "dirname", "disabled", "draggable",
                "dropzone", "for", "formtarget", "headers", "height", "hidden", "high",
                "hreflang", "id", "ismap", "kind", "label", "lang", "list", "loop", "low",
                "max", "maxlength", "media", "mediagroup", "min", "multiple", "name", "open",
                "optimum", "placeholder", "preload", "pubdate", "radiogroup", "readonly",
                "required", "reversed", "rows", "rowspan", "spellcheck", "scope", "scoped",
                "seamless", "selected", "shape", "size", "sizes", "span", "srclang", "start",
                "step", "tabindex", "target", "title", "width", "wrap"}


def attr_type(name: str) -> str:
    """Content type of a lower-case attribute name: plain, url, css, js, html, srcset, unsafe."""
    if name.startswith("data-"):
        name = name[5:]
    elif ":" in name:
        prefix, _, rest = name.partition(":")
        if prefix == "xmlns":
            return "url"
        name = rest
    if name in _URL_ATTRS:
        return "url"
    if name in _UNSAFE_ATTRS:
        return "unsafe"
    if name in _PLAIN_ATTRS:
        return "plain"
    if name == "style":
        return "css"
    if name == "srcdoc":
        return "html"
    if name == "srcset":
        return "srcset"
    if name.startswith("on"):
        return "js"
    if "src" in name or "uri" in name or "url" in name:
        return "url"
    return "plain"


# ---------------------------------------------------------------------------------------
# Transition functions.

def _eat_space(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t\n\f\r":
        i += 1
    return i


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
    i = _eat_space(s, 0)
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
    i = _eat_space(s, 0)
    if i == len(s):
        return c, len(s)
    if s[i] != "=":
        return c._replace(state=TAG), i
    return c._replace(state=BEFORE_VALUE), i + 1


def t_before_value(c: Context, s: str) -> tuple[Context, int]:
    i = _eat_space(s, 0)
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


def t_url(c: Context, s: str) -> tuple[Context, int]:
    if "#" in s or "?" in s:
        c = c._replace(url_part=URL_QUERY_OR_FRAG)
    elif len(s) != _eat_space(s, 0) and c.url_part == URL_NONE:
        c = c._replace(url_part=URL_PRE_QUERY)
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
    from .css import t_css, t_css_str

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
