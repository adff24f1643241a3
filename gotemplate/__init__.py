"""Go's text/template language with html/template's contextual escaping, in Python.

A library of its own: it imports nothing else of postlog. Templates written for Go (listmonk's
campaigns and templates) parse, escape and render here as Go renders them; Sprig's function
library is included. ``compile_template`` compiles once; ``Template.render`` renders many times.
See docs/templates.md for what is supported and the known differences from Go.
"""

from .gojson import go_json_value
from .gojson import unmarshal as go_json_loads
from .sprig import sprig_funcs
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
    "go_json_loads", "go_json_value", "gofunc", "sprig_funcs",
]
