"""From a request body to template commands, binding fields the way listmonk's echo does.

JSON keys match case-insensitively (an exact-case key wins), unknown keys are ignored and
``null`` leaves a field empty; form bodies (``--form name=...``) bind the first value of each
field. A field of the wrong JSON type is a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from events.validation import check_line, check_text
from kernel.errors import InvalidInput
from services.command_api.templates.commands import (
    INVALID_NAME,
    NAME_MAX_BYTES,
    CreateTemplate,
    UpdateTemplate,
    check_template,
    template_type,
)
from services.http.binding import bound_items, decode_object, first_values, string_value

_FIELDS = ("name", "type", "subject", "body", "body_source")
SUBJECT_MAX_BYTES = 5000  # listmonk's limit on campaign subjects (they are templates too)


@dataclass(frozen=True)
class TemplateFields:
    """The fields of a template as a client sent them ("" when absent, like Go's zero value;
    ``body_source`` is ``None`` when absent or null)."""

    name: str = ""
    type: str = ""
    subject: str = ""
    body: str = ""
    body_source: str | None = None

    def validate(self) -> None:
        """listmonk's name length, then postlog's boundary for every text
        (``events/validation.py``); a tx subject is one line of at most 5000 bytes."""
        if not 1 <= len(self.name.encode()) <= NAME_MAX_BYTES:
            raise InvalidInput(INVALID_NAME)
        check_line(self.name, "name")
        check_line(self.subject, "subject", SUBJECT_MAX_BYTES)
        check_text(self.body, "body")
        if self.body_source is not None:
            check_text(self.body_source, "body_source")

    def to_create(self, template_id: int, at: datetime) -> CreateTemplate:
        """A ``CreateTemplate`` after listmonk's checks. Campaign templates have no subject
        (each campaign has its own)."""
        self.validate()
        kind = template_type(self.type)
        subject = self.subject if kind == "tx" else ""
        check_template(kind, self.name, subject, self.body)
        return CreateTemplate(template_id=template_id, name=self.name, template_type=kind,
                              subject=subject, body=self.body,
                              body_source=self.body_source or None, at=at)

    def to_update(self, template_id: int, at: datetime) -> UpdateTemplate:
        """An ``UpdateTemplate``; the decider checks the result against the stored type (a
        ``type`` sent with the edit is ignored: a template's type never changes)."""
        self.validate()
        return UpdateTemplate(template_id=template_id, name=self.name, subject=self.subject,
                              body=self.body, body_source=self.body_source or None, at=at)


def fields_from_json(body: bytes) -> TemplateFields:
    """Bind a JSON body; syntax and type errors are 400s (the first wrong field in the
    body's order)."""
    data = decode_object(body)
    if data is None:
        return TemplateFields()
    values = {field: string_value(value, field) for field, value in bound_items(data, _FIELDS)}
    return TemplateFields(
        name=values.get("name") or "", type=values.get("type") or "",
        subject=values.get("subject") or "", body=values.get("body") or "",
        body_source=values.get("body_source"))


def fields_from_form(form: Mapping[str, list[str]]) -> TemplateFields:
    """Bind form fields: names match case-insensitively, the first value of a field counts."""
    first = first_values(form, _FIELDS)
    return TemplateFields(name=first["name"], type=first["type"], subject=first["subject"],
                          body=first["body"], body_source=first["body_source"] or None)
