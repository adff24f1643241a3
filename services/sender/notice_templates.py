"""The sender's own e-mails (opt-in confirmation, admin notifications): their templates.

listmonk renders these from its ``static/email-templates``; postlog's are its own text in the
style of the seeded templates (``services/command_api/templates/defaults``), kept beside this
module in ``notices/``. Each is an HTML template compiled once, like a transactional template
(listmonk's generic functions: Sprig, ``Date``, ``L``, ``Safe``), and rendered with the dot
its module gives (``optin.py``, ``notifications.py``). Values are escaped by the template
engine (a subscriber's name, a campaign's name cannot inject markup).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from gotemplate import Template
from services.sender.templating import compile_tx_body, generic_funcs

OPTIN = "optin.html"
CAMPAIGN_STATUS = "campaign-status.html"


@cache
def notice_template(name: str) -> Template:
    """The compiled template ``notices/<name>`` (compiled on first use)."""
    source = (resources.files(__package__) / "notices" / name).read_text("utf-8")
    return compile_tx_body(source, funcs=generic_funcs())


def render_notice(name: str, dot: Any) -> str:
    """The HTML of notice ``name`` for ``dot``."""
    return notice_template(name).render(dot)
