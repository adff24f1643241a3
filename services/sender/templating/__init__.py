"""listmonk's layer over the Go template engine (``gotemplate``): how campaign bodies,
templates, subjects, headers and transactional messages are compiled and what they see.

listmonk's own functions (``TrackLink``, ``UnsubscribeURL``, ``L.T``...) and shorthands, the
data templates get (``.Subscriber``, ``.Campaign``, ``.Tx``), Markdown bodies and the plain-text
alternative part. See docs/templates.md.
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
from .markdown import markdown_to_html
from .plaintext import html_to_text

__all__ = [
    "I18n", "ListmonkURLs", "Literal", "campaign_funcs", "compile_altbody",
    "compile_campaign_body", "compile_header", "compile_subject", "compile_tx_body",
    "compile_tx_text", "first_name", "generic_funcs", "has_template_expr", "html_to_text",
    "last_name", "listmonk_funcs", "markdown_to_html", "rewrite_shorthands",
]
