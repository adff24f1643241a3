"""html/template's model of where output lands in an HTML document, and its transitions.

A Context says what the HTML parser would be doing at a point of the output (in text, in
a tag, in a quoted URL attribute, in a <script> string, ...). ``transition(c, s)``
consumes template text from the front of s and returns the new context and how many
characters it consumed, following Go's html/template/transition.go.
"""

from __future__ import annotations

from typing import NamedTuple

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


def t_url(c: Context, s: str) -> tuple[Context, int]:
    if "#" in s or "?" in s:
        c = c._replace(url_part=URL_QUERY_OR_FRAG)
    elif len(s) != eat_space(s, 0) and c.url_part == URL_NONE:
        c = c._replace(url_part=URL_PRE_QUERY)
    return c, len(s)


def eat_space(s: str, i: int) -> int:
    """Index of the first non-HTML-space character at or after i."""
    while i < len(s) and s[i] in " \t\n\f\r":
        i += 1
    return i
