"""listmonk-compatible templating: Go's text/template language with html/template escaping.

Campaign bodies, templates, subjects and headers written for listmonk (Go templates plus
listmonk's and Sprig's functions) render here as they do in listmonk. See
docs/templates.md for what is supported and the known differences from Go.
"""

from .campaign import (
    Literal,
    compile_altbody,
    compile_campaign_body,
    compile_header,
    compile_subject,
    compile_tx_body,
    compile_tx_text,
)
from .funcs_listmonk import (
    I18n,
    ListmonkURLs,
    campaign_funcs,
    first_name,
    generic_funcs,
    has_template_expr,
    last_name,
    listmonk_funcs,
    rewrite_shorthands,
)
from .funcs_sprig import sprig_funcs
from .gojson import go_json_value
from .gojson import unmarshal as go_json_loads
from .markdown import markdown_to_html
from .plaintext import html_to_text
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
    "CSS", "HTML", "JS", "MISSING", "URL", "FuncMap", "HTMLAttr", "I18n", "JSStr",
    "LimitExceeded", "Limits", "ListmonkURLs", "Literal", "Mode", "Signature", "Srcset",
    "Template", "TemplateError", "campaign_funcs", "compile_altbody", "compile_campaign_body",
    "compile_header", "compile_subject", "compile_template", "compile_tx_body",
    "compile_tx_text", "first_name", "generic_funcs", "go_json_loads", "go_json_value", "gofunc",
    "has_template_expr", "html_to_text", "last_name", "listmonk_funcs", "markdown_to_html",
    "rewrite_shorthands", "sprig_funcs",
]
