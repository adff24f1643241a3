"""Commands on an e-mail template, and listmonk's rules for a template's fields.

Ids and time arrive on the command (the route takes them). ``check_template`` holds every
rule a template must satisfy, in listmonk's order, so the route can refuse a bad body before
taking an id and the decider applies the very same rules to the result of an edit.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.templates import TemplateType
from kernel.errors import InvalidInput
from services.sender.templating.previews import (
    MISSING_PLACEHOLDER,
    check_compiles,
    has_content_tag,
)

TEMPLATE_ID_SEQUENCE = "eventlog.template_id_seq"  # where new template ids come from
NAME_MAX_BYTES = 2000  # listmonk's stdInputMaxLen, counted in bytes like Go's len()
INVALID_NAME = "Invalid length for name."
MISSING_SUBJECT = "Missing field(s): subject"
INVALID_TYPE = "Invalid template type: {!r} (one of campaign, campaign_visual, tx)"
TEMPLATE_NOT_FOUND = "Template not found"
CANNOT_DELETE = "Cannot delete non-existent or default template"
ONLY_CAMPAIGN_DEFAULT = "Only campaign templates can be set as the default"


class CreateTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """Create a template with a fresh id (``eventlog.template_id_seq``)."""

    template_id: int
    name: str
    template_type: TemplateType
    subject: str = ""
    body: str
    body_source: str | None = None
    at: datetime


class UpdateTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """Edit a template the way listmonk's PUT does: the name is always replaced; a subject,
    body or body source sent empty keeps the current one. The type cannot change."""

    template_id: int
    name: str
    subject: str = ""
    body: str = ""
    body_source: str | None = None
    at: datetime


class MakeDefault(msgspec.Struct, frozen=True, kw_only=True):
    """Make a campaign template the default; ``previous_template_id`` is the current default
    (looked up by the handler, which unsets it in the same transaction)."""

    template_id: int
    previous_template_id: int | None = None
    at: datetime


class UnsetDefault(msgspec.Struct, frozen=True, kw_only=True):
    """The default template gives way to ``new_default_template_id``."""

    template_id: int
    new_default_template_id: int
    at: datetime


class DeleteTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """Delete a template; campaigns using it switch to ``default_template_id``."""

    template_id: int
    default_template_id: int | None = None
    at: datetime


TemplateCommand = CreateTemplate | UpdateTemplate | MakeDefault | UnsetDefault | DeleteTemplate


def template_type(value: str) -> TemplateType:
    """A template type named by a client; 400 for anything else."""
    if value == "campaign":
        return "campaign"
    if value == "campaign_visual":
        return "campaign_visual"
    if value == "tx":
        return "tx"
    raise InvalidInput(INVALID_TYPE.format(value))


def check_template(template_type: TemplateType, name: str, subject: str, body: str) -> None:
    """listmonk's checks, in its order: the name, the content placeholder of a campaign
    template, the subject of a transactional one, then the body (and a tx subject) must
    compile. Raises ``InvalidInput`` with listmonk's message."""
    if not 1 <= len(name.encode()) <= NAME_MAX_BYTES:
        raise InvalidInput(INVALID_NAME)
    if template_type == "campaign" and not has_content_tag(body):
        raise InvalidInput(MISSING_PLACEHOLDER)
    if template_type == "tx" and not subject.strip():
        raise InvalidInput(MISSING_SUBJECT)
    check_compiles(template_type, body, subject)
