"""Amazon SES bounces through SNS: ``POST /webhooks/service/ses``.

As listmonk's ``internal/bounce/webhooks/ses.go``: every SNS message (a subscription
confirmation or a notification) must carry a valid signature by the certificate at its
``SigningCertURL``, and that URL must be Amazon's SNS certificate URL
(``https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<id>.pem``). The
certificate is fetched once per path and cached. The string signed is listmonk's (AWS's
fields in order). ``SignatureVersion`` 1 is SHA1withRSA, as listmonk checks every message;
version 2 (SHA256withRSA, which SNS offers since 2022) is accepted too; any other is refused.

A confirmation, once verified, is confirmed by fetching its ``SubscribeURL`` (or
``UnsubscribeURL``), as listmonk does. A notification gives one bounce: ``Permanent`` bounces
(and transient ``5.4.4``) are hard, complaints are complaints, the rest soft; the campaign is
the ``X-Listmonk-Campaign`` header of the original mail unless SES truncated the headers.

The URL pattern is a constructor argument so a test can serve its own certificate over
``http://127.0.0.1``; the check itself is never turned off.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from services.command_api.bounces.intake import BounceInput
from services.command_api.bounces.webhooks.common import (
    WebhookRefused,
    decode,
    obj,
    string,
)

log = structlog.get_logger(__name__)

SNS_CERT_URL = re.compile(
    r"(?i)^https://sns\.[a-z0-9\-]+\.amazonaws\.com(\.cn)?/SimpleNotificationService\-[a-z0-9]+\.pem$")
CAMPAIGN_HEADER = "X-Listmonk-Campaign"
FETCH_TIMEOUT = 10.0
SUBSCRIPTION_TYPES = ("SubscriptionConfirmation", "UnsubscribeConfirmation")


class SES:
    """SNS message verification with a certificate cache (one per process)."""

    def __init__(self, cert_url: re.Pattern[str] = SNS_CERT_URL,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._cert_url = cert_url
        self._transport = transport
        self._certs: dict[str, x509.Certificate] = {}
        self._lock = asyncio.Lock()

    async def process_subscription(self, body: bytes) -> None:
        """Verify an SNS (un)subscription confirmation and confirm it at its URL."""
        note = _notification(body)
        await self._verify(note)
        url = string(note.get("SubscribeURL"))
        if string(note.get("Type")) == "UnsubscriptionConfirmation":
            url = string(note.get("UnsubscribeURL"))
        try:
            async with self._client() as client:
                response = await client.get(url)
        except (httpx.HTTPError, ValueError) as exc:
            raise WebhookRefused(f"error requesting subscription URL: {exc}") from None
        if response.status_code != 200:
            raise WebhookRefused(
                f"non 200 response on subscription URL: {response.status_code}")
        log.info("ses_subscription_confirmed", topic=string(note.get("TopicArn")))

    async def process_bounce(self, body: bytes) -> BounceInput:
        """The bounce of a verified SES notification."""
        note = _notification(body)
        await self._verify(note)
        message = string(note.get("Message"))
        mail = decode(message, "SES notification")
        if not isinstance(mail, dict):
            raise WebhookRefused("SES notification is not an object")
        event_type = string(mail.get("eventType"))
        notif_type = string(mail.get("notificationType"))
        if (event_type and event_type != "Bounce") or (
                notif_type and notif_type not in ("Bounce", "Complaint")):
            raise WebhookRefused("notification type is not bounce")
        details = obj(mail.get("mail"))
        destination = details.get("destination")
        if not isinstance(destination, list) or not destination:
            raise WebhookRefused("no destination e-mails found in SES notification")
        bounce = obj(mail.get("bounce"))
        kind: Any = "soft"
        if bounce.get("bounceType") == "Permanent":
            kind = "hard"
        recipients = bounce.get("bouncedRecipients")
        if (bounce.get("bounceType") == "Transient" and isinstance(recipients, list)
                and recipients and obj(recipients[0]).get("status") == "5.4.4"):
            kind = "hard"  # "invalid domain"
        if notif_type == "Complaint":
            kind = "complaint"
        campaign = ""
        if details.get("headersTruncated") is not True:
            for header in details.get("headers") or []:
                if obj(header).get("name") == CAMPAIGN_HEADER and "value" in header:
                    campaign = string(header.get("value"))
                    break
        return BounceInput(kind=kind, source="ses", email=string(destination[0]).lower(),
                           campaign_uuid=campaign, meta=mail,
                           created_at=_ses_time(details.get("timestamp")))

    async def _verify(self, note: dict[str, Any]) -> None:
        cert = await self._certificate(string(note.get("SigningCertURL")))
        try:
            signature = base64.b64decode(string(note.get("Signature")), validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRefused("malformed SNS signature") from None
        version = string(note.get("SignatureVersion"))
        algorithm: hashes.HashAlgorithm
        if version in ("", "1"):
            algorithm = hashes.SHA1()  # what SNS signs version 1 with
        elif version == "2":
            algorithm = hashes.SHA256()
        else:
            raise WebhookRefused(f"unknown SNS signature version {version[:10]!r}")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookRefused("SNS certificate key is not RSA")
        try:
            key.verify(signature, string_to_sign(note), padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise WebhookRefused("invalid SNS signature") from None

    async def _certificate(self, url: str) -> x509.Certificate:
        if not self._cert_url.match(url):
            raise WebhookRefused("invalid SNS certificate URL")
        path = httpx.URL(url).path
        cached = self._certs.get(path)
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._certs.get(path)
            if cached is not None:
                return cached
            try:
                async with self._client() as client:
                    response = await client.get(url)
            except httpx.HTTPError as exc:
                raise WebhookRefused(f"error getting SNS cert: {exc}") from None
            if response.status_code != 200:
                raise WebhookRefused("invalid SNS certificate URL")
            try:
                cert = x509.load_pem_x509_certificate(response.content)
            except ValueError:
                raise WebhookRefused("invalid PEM") from None
            self._certs[path] = cert
            return cert

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=FETCH_TIMEOUT, transport=self._transport,
                                 follow_redirects=False)


def _notification(body: bytes) -> dict[str, Any]:
    note = decode(body, "SNS notification")
    if not isinstance(note, dict):
        raise WebhookRefused("SNS notification is not an object")
    return note


def string_to_sign(note: dict[str, Any]) -> bytes:
    """The text SNS signs (listmonk's ``buildSignature``): name and value lines of the
    message's fields in order, the optional ones only when set."""
    lines: list[str] = []

    def add(name: str, *, optional: bool = False) -> None:
        value = string(note.get(name))
        if not optional or value:
            lines.extend((name, value))

    add("Message")
    add("MessageId")
    add("Subject", optional=True)
    add("SubscribeURL", optional=True)
    add("Timestamp")
    add("Token", optional=True)
    add("TopicArn")
    add("Type")
    return "".join(line + "\n" for line in lines).encode()


def _ses_time(value: Any) -> datetime | None:
    """SES's ``mail.timestamp`` (``2006-01-02T15:04:05.999Z``, UTC)."""
    if value is None:
        return None
    text = string(value)
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", text):
        raise WebhookRefused("SES notification: malformed mail.timestamp")
    whole, _, fraction = text[:-1].partition(".")
    at = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return at.replace(microsecond=int((fraction + "000000")[:6])) if fraction else at
