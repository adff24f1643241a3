"""listmonk-compatible templating: Go's text/template language with html/template escaping.

Campaign bodies, templates, subjects and headers written for listmonk (Go templates plus
listmonk's and Sprig's functions) render here as they do in listmonk. See
docs/templates.md for what is supported and the known differences from Go.
"""

from .template import FuncMap, Mode, Template, compile_template
from .values import (
    CSS,
    HTML,
    JS,
    MISSING,
    URL,
    HTMLAttr,
    JSStr,
    LimitExceeded,
    Limits,
    Signature,
    Srcset,
    TemplateError,
    gofunc,
)

__all__ = [
    "CSS", "HTML", "JS", "MISSING", "URL", "FuncMap", "HTMLAttr", "JSStr", "LimitExceeded",
    "Limits", "Mode", "Signature", "Srcset", "Template", "TemplateError", "compile_template",
    "gofunc",
]
