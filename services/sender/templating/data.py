"""What templates see: the subscriber, campaign and transactional message (``.Subscriber``,
``.Campaign``, ``.Tx``), with the dummy values a template preview is rendered with.

The sender renders real messages with the same classes. Field and method names are the Go
names listmonk templates use (``.Subscriber.FirstName``, ``.Campaign.Subject``,
``.Tx.Data.key``); the template engine exposes only these members.
The dummy subscriber is listmonk's (same e-mail, name, uuid and ``city`` attribute), so
previews of existing templates read the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from services.sender.templating.funcs_listmonk import DUMMY_UUID, first_name, last_name

__all__ = ["DUMMY_CONTENT", "DUMMY_UUID", "ENGLISH", "Campaign", "CampaignMessage", "Subscriber",
           "TxContext", "TxMessage"]

DUMMY_TIME = datetime(2024, 1, 1, tzinfo=UTC)

DUMMY_CONTENT = """
<h2>Hello there</h2>
<p>This is a preview of your template with sample content standing in for a campaign's
message. Headings, paragraphs, lists and links below show how the template styles them.</p>
<ul>
  <li>The first point of an example list.</li>
  <li>A second point, slightly longer, to show how list items wrap across lines.</li>
</ul>
<h3>A smaller heading</h3>
<p>Text after a sub-heading, with a <a href="https://example.com" target="_blank">sample
link</a> and some <strong>bold</strong> and <em>emphasised</em> words.</p>
"""

# A few of listmonk's English message strings that stock templates show (``L.T "key"``).
ENGLISH = {
    "email.unsub": "Unsubscribe",
    "email.unsubHelp": "Don't want to receive these e-mails?",
    "email.viewInBrowser": "View in browser",
    "public.poweredBy": "Powered by",
}


@dataclass(frozen=True)
class Subscriber:
    """listmonk's ``models.Subscriber`` as templates see it."""

    __template_fields__: ClassVar[tuple[str, ...]] = (
        "ID", "UUID", "Email", "Name", "Attribs", "Status", "Lists", "CreatedAt", "UpdatedAt",
        "FirstName", "LastName")

    ID: int = 0
    UUID: str = DUMMY_UUID
    Email: str = "demo@listmonk.app"
    Name: str = "Demo Subscriber"
    Attribs: dict[str, Any] = field(default_factory=lambda: {"city": "Bengaluru"})
    Status: str = "enabled"
    Lists: list[Any] = field(default_factory=list)
    CreatedAt: datetime = DUMMY_TIME
    UpdatedAt: datetime = DUMMY_TIME

    def FirstName(self) -> str:  # Go method name, as templates call it
        return first_name(self.Name)

    def LastName(self) -> str:
        return last_name(self.Name)


@dataclass(frozen=True)
class Campaign:
    """The fields of listmonk's ``models.Campaign`` that templates read."""

    ID: int = 0
    UUID: str = DUMMY_UUID
    Name: str = "Dummy campaign"
    Subject: str = "Dummy campaign subject"
    FromEmail: str = "dummy-campaign@listmonk.app"
    Tags: list[str] = field(default_factory=list)
    Type: str = "regular"
    ContentType: str = "richtext"
    Status: str = "draft"
    CreatedAt: datetime = DUMMY_TIME
    UpdatedAt: datetime = DUMMY_TIME


@dataclass(frozen=True)
class CampaignMessage:
    """The dot of a campaign template: the campaign and one subscriber."""

    Campaign: Campaign
    Subscriber: Subscriber


@dataclass(frozen=True)
class TxMessage:
    """``.Tx`` of a transactional template; a preview has no data."""

    Subject: str = ""
    Data: dict[str, Any] = field(default_factory=dict)
    FromEmail: str = ""
    ContentType: str = "html"
    Messenger: str = "email"
    TemplateID: int = 0


@dataclass(frozen=True)
class TxContext:
    """The dot of a transactional template."""

    Subscriber: Subscriber
    Tx: TxMessage

