"""The providers' bounce webhooks through HTTP, with keys and certificates made here: each
records a bounce when its sender is verified (SES with a self-signed certificate served by a
small HTTP server), and a forged, unsigned or replayed request is refused with a 4xx and
records nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kernel.settings import Settings
from services.command_api.bounces.routes import STATE_KEY, BounceWebhooks
from services.command_api.bounces.webhooks.ses import SES, string_to_sign
from tests.integration.bounces_support import (
    CertServer,
    cert_server,
    configure,
    event_total,
    new_campaign,
    new_list,
    new_subscriber,
    self_signed,
)
from tests.integration.settings_support import SettingsStack, settings_stack

TEST_CERT_URL = re.compile(r"^http://127\.0\.0\.1:\d+/SimpleNotificationService-[a-z0-9]+\.pem$")
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
PM_AUTH = ("pm-user", "pm-password")
POSTMARK = {"enabled": True, "username": PM_AUTH[0], "password": PM_AUTH[1]}
FORWARDEMAIL_KEY = "fe-" + uuid.uuid4().hex
LETTERMINT_KEY = "lm-" + uuid.uuid4().hex
AZURE_SECRET = "az-" + uuid.uuid4().hex
SNS_KEY, SNS_PEM = self_signed()


@pytest.fixture(scope="module")
async def sns() -> AsyncIterator[CertServer]:
    async with cert_server(SNS_PEM) as server:
        yield server


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    async with settings_stack(admin_pg_url, settings) as own:
        own.app.state[STATE_KEY] = BounceWebhooks(ses=SES(cert_url=TEST_CERT_URL))
        der = SENDGRID_KEY.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        await configure(
            own, bounce_enabled=True, bounce_webhooks_enabled=True, bounce_ses_enabled=True,
            bounce_sendgrid_enabled=True, bounce_sendgrid_key=base64.b64encode(der).decode(),
            bounce_postmark=POSTMARK,
            bounce_forwardemail={"enabled": True, "key": FORWARDEMAIL_KEY},
            bounce_lettermint={"enabled": True, "key": LETTERMINT_KEY},
            bounce_azure={"enabled": True, "shared_secret": AZURE_SECRET,
                          "shared_secret_header": ""})
        yield own


@pytest.fixture
async def api(stack: SettingsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


@pytest.fixture
async def anon(stack: SettingsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client(anonymous=True) as client:
        yield client


async def target(api: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh subscriber and a campaign its bounce can name."""
    campaign = await new_campaign(api, await new_list(api), f"c-{uuid.uuid4().hex[:6]}")
    return await new_subscriber(api), campaign


async def bounces_of(api: httpx.AsyncClient, subscriber_id: int) -> list[dict[str, Any]]:
    response = await api.get(f"/api/subscribers/{subscriber_id}/bounces")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def refused(stack: SettingsStack, response: httpx.Response, before: int,
                  status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert await event_total(stack) == before


# --- Amazon SES (SNS) ----------------------------------------------------------------------

def sns_message(server: CertServer, kind: str, message: str, *, version: str = "1",
                key: rsa.RSAPrivateKey = SNS_KEY, **fields: str) -> dict[str, str]:
    note = {"Type": kind, "MessageId": str(uuid.uuid4()),
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-bounces", "Message": message,
            "Timestamp": "2024-08-20T10:00:00.000Z", "SignatureVersion": version,
            "SigningCertURL": f"{server.url}/SimpleNotificationService-0a1b2c.pem", **fields}
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    note["Signature"] = base64.b64encode(
        key.sign(string_to_sign(note), padding.PKCS1v15(), algorithm)).decode()
    return note


def ses_bounce(email: str, campaign_uuid: str, bounce_type: str = "Permanent") -> str:
    return msgspec.json.encode({
        "notificationType": "Bounce",
        "bounce": {"bounceType": bounce_type, "bouncedRecipients": [{"status": "5.1.1"}]},
        "mail": {"timestamp": "2024-08-20T09:59:58.250Z", "destination": [email.upper()],
                 "headersTruncated": False,
                 "headers": [{"name": "X-Listmonk-Campaign", "value": campaign_uuid}]},
    }).decode()


async def post_sns(anon: httpx.AsyncClient, note: dict[str, str], kind: str = "Notification"
                   ) -> httpx.Response:
    return await anon.post("/webhooks/service/ses", content=msgspec.json.encode(note),
                           headers={"x-amz-sns-message-type": kind})


async def test_ses_subscription_is_confirmed_once_its_signature_checks(
        stack: SettingsStack, anon: httpx.AsyncClient, sns: CertServer) -> None:
    before = await event_total(stack)
    confirm = sns_message(sns, "SubscriptionConfirmation", "You have chosen to subscribe",
                          SubscribeURL=f"{sns.url}/confirm?token=t1", Token="t1")
    forged = {**confirm, "SubscribeURL": f"{sns.url}/confirm?token=forged"}
    await refused(stack, await post_sns(anon, forged, "SubscriptionConfirmation"), before)
    assert "/confirm?token=forged" not in sns.paths
    response = await post_sns(anon, confirm, "SubscriptionConfirmation")
    assert (response.status_code, response.json()) == (200, {"data": True})
    assert "/confirm?token=t1" in sns.paths
    assert await event_total(stack) == before


async def test_a_signed_ses_bounce_is_recorded_and_a_forged_one_is_not(
        stack: SettingsStack, api: httpx.AsyncClient, anon: httpx.AsyncClient,
        sns: CertServer) -> None:
    sub, campaign = await target(api)
    message = ses_bounce(sub["email"], campaign["uuid"])
    before = await event_total(stack)
    other_key, _ = self_signed()
    forgeries = [
        {**sns_message(sns, "Notification", message), "Message": ses_bounce(
            sub["email"], campaign["uuid"], "Transient")},  # altered after signing
        sns_message(sns, "Notification", message, key=other_key),  # someone else's key
        {**sns_message(sns, "Notification", message), "Signature": ""},  # unsigned
        sns_message(sns, "Notification", message,  # a certificate not on the allowed host
                    SigningCertURL="http://evil.example/SimpleNotificationService-0a.pem"),
        {**sns_message(sns, "Notification", message), "SignatureVersion": "3"},
    ]
    for note in forgeries:
        await refused(stack, await post_sns(anon, note), before)
    assert await bounces_of(api, sub["id"]) == []

    response = await post_sns(anon, sns_message(sns, "Notification", message))
    assert (response.status_code, response.json()) == (200, {"data": True})
    [recorded] = await bounces_of(api, sub["id"])
    assert (recorded["type"], recorded["source"], recorded["email"]) == (
        "hard", "ses", sub["email"])
    assert recorded["campaign"] == {"id": campaign["id"], "name": campaign["name"]}
    assert recorded["created_at"].startswith("2024-08-20T09:59:58.25")
    assert recorded["meta"]["bounce"]["bounceType"] == "Permanent"
    # signature version 2 (SHA256withRSA) is accepted too
    other, _ = await target(api)
    v2 = sns_message(sns, "Notification", ses_bounce(other["email"], ""), version="2")
    assert (await post_sns(anon, v2)).status_code == 200
    assert [b["source"] for b in await bounces_of(api, other["id"])] == ["ses"]


# --- SendGrid ------------------------------------------------------------------------------

def sendgrid_post(body: bytes, key: ec.EllipticCurvePrivateKey = SENDGRID_KEY,
                  stamp: str = "1724140800") -> dict[str, Any]:
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"content": body, "headers": {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp}}


async def test_sendgrid_events_signed_with_its_key_are_recorded(
        stack: SettingsStack, api: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    sub, campaign = await target(api)
    events = [{"email": sub["email"], "event": "bounce", "bounce_classification": "technical",
               "timestamp": 1724140800, "XListmonkCampaign": campaign["uuid"]},
              {"email": sub["email"], "event": "delivered", "timestamp": 1724140801}]
    body = msgspec.json.encode(events)
    before = await event_total(stack)
    signed = sendgrid_post(body)
    tampered = {**signed, "content": body.replace(b"technical", b"invalid-address")}
    for attempt in (sendgrid_post(body, ec.generate_private_key(ec.SECP256R1())), tampered,
                    {"content": body},
                    {**signed, "headers": {**signed["headers"],
                                           "X-Twilio-Email-Event-Webhook-Timestamp": "1"}}):
        await refused(stack, await anon.post("/webhooks/service/sendgrid", **attempt), before)
    response = await anon.post("/webhooks/service/sendgrid", **signed)
    assert (response.status_code, response.json()) == (200, {"data": True})
    [recorded] = await bounces_of(api, sub["id"])
    assert (recorded["type"], recorded["source"]) == ("soft", "sendgrid")
    assert recorded["campaign"]["id"] == campaign["id"]
    assert recorded["meta"] == events  # the whole body, an array, as listmonk keeps it
    assert recorded["created_at"].startswith("2024-08-20T08:00:00")


# --- Postmark ------------------------------------------------------------------------------

async def test_postmark_needs_its_basic_auth(stack: SettingsStack, api: httpx.AsyncClient,
                                            anon: httpx.AsyncClient) -> None:
    sub, campaign = await target(api)
    body = msgspec.json.encode({
        "RecordType": "Bounce", "Type": "HardBounce", "Email": sub["email"],
        "BouncedAt": "2024-08-20T10:00:00Z", "Details": "smtp;550 5.1.1 unknown user",
        "Metadata": {"X-Listmonk-Campaign": campaign["uuid"]}})
    before = await event_total(stack)
    unsigned = await anon.post("/webhooks/service/postmark", content=body)
    await refused(stack, unsigned, before, 401)
    for auth in (httpx.BasicAuth("pm-user", "wrong"), httpx.BasicAuth("x", "pm-password"),
                 httpx.BasicAuth("", "")):
        response = await anon.post("/webhooks/service/postmark", content=body, auth=auth)
        await refused(stack, response, before, 401)
        assert response.json() == {"message": "Unauthorized"}
        assert response.headers["www-authenticate"] == "basic realm=Restricted"
    response = await anon.post("/webhooks/service/postmark", content=body,
                               auth=PM_AUTH)
    assert (response.status_code, response.json()) == (200, {"data": True})
    [recorded] = await bounces_of(api, sub["id"])
    assert (recorded["type"], recorded["source"], recorded["campaign"]["id"]) == (
        "hard", "postmark", campaign["id"])
    # a record that is not a bounce is accepted and ignored
    delivered = msgspec.json.encode({"RecordType": "Delivery", "Email": sub["email"]})
    assert (await anon.post("/webhooks/service/postmark", content=delivered,
                            auth=PM_AUTH)).status_code == 200
    assert len(await bounces_of(api, sub["id"])) == 1


# --- Forward Email -------------------------------------------------------------------------

async def test_forwardemail_needs_its_hmac(stack: SettingsStack, api: httpx.AsyncClient,
                                          anon: httpx.AsyncClient) -> None:
    sub, campaign = await target(api)
    body = msgspec.json.encode({
        "recipient": sub["email"], "bounce": {"category": "recipient", "code": 550},
        "bounced_at": "2024-08-20T10:00:00Z",
        "headers": {"X-Listmonk-Campaign": campaign["uuid"]}})
    good = hmac.new(FORWARDEMAIL_KEY.encode(), body, hashlib.sha256).hexdigest()
    before = await event_total(stack)
    for signature in ("", "zz", hmac.new(b"other", body, hashlib.sha256).hexdigest()):
        await refused(stack, await anon.post("/webhooks/service/forwardemail", content=body,
                                             headers={"X-Webhook-Signature": signature}),
                      before)
    response = await anon.post("/webhooks/service/forwardemail", content=body,
                               headers={"X-Webhook-Signature": good})
    assert (response.status_code, response.json()) == (200, {"data": True})
    [recorded] = await bounces_of(api, sub["id"])
    assert (recorded["type"], recorded["source"], recorded["campaign"]["id"]) == (
        "hard", "forwardemail", campaign["id"])


# --- Lettermint ----------------------------------------------------------------------------

def lettermint_header(body: bytes, stamp: int, key: str = LETTERMINT_KEY) -> dict[str, str]:
    digest = hmac.new(key.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Lettermint-Signature": f"t={stamp},v1={digest}"}


async def test_lettermint_needs_a_fresh_signature(stack: SettingsStack, api: httpx.AsyncClient,
                                                 anon: httpx.AsyncClient) -> None:
    sub, campaign = await target(api)
    body = msgspec.json.encode({
        "id": "evt_1", "event": "message.soft_bounced", "timestamp": "2024-08-20T10:00:00Z",
        "data": {"recipient": sub["email"], "metadata": {"X-Listmonk-Campaign":
                                                          campaign["uuid"]}}})
    now = int(time.time())
    before = await event_total(stack)
    for headers in (lettermint_header(body, now - 1000),  # replayed: too old
                    lettermint_header(body, now, key="other"),
                    {"X-Lettermint-Signature": "v1=abc"}, {}):
        await refused(stack, await anon.post("/webhooks/service/lettermint", content=body,
                                             headers=headers), before)
    response = await anon.post("/webhooks/service/lettermint", content=body,
                               headers=lettermint_header(body, now))
    assert (response.status_code, response.json()) == (200, {"data": True})
    [recorded] = await bounces_of(api, sub["id"])
    assert (recorded["type"], recorded["source"], recorded["campaign"]["id"]) == (
        "soft", "lettermint", campaign["id"])


# --- Azure (Event Grid) --------------------------------------------------------------------

async def test_azure_validation_handshake_and_its_shared_secret(
        stack: SettingsStack, api: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    handshake = await anon.post(
        "/webhooks/service/azure", headers={"aeg-event-type": "SubscriptionValidation"},
        content=msgspec.json.encode([{"data": {"validationCode": "code-123"}}]))
    assert (handshake.status_code, handshake.json()) == (
        200, {"validationResponse": "code-123"})
    sub, _ = await target(api)
    body = msgspec.json.encode([{
        "eventType": "Microsoft.Communication.EmailDeliveryReportReceived",
        "data": {"recipient": sub["email"], "status": "Failed",
                 "deliveryStatusDetails": {"statusMessage": "550 5.1.1 mailbox unavailable"},
                 "deliveryAttemptTimestamp": "2024-08-20T10:00:00Z"}}])
    before = await event_total(stack)
    for params, headers in (({}, {}), ({"code": "wrong"}, {}),
                            ({}, {"X-Listmonk-Webhook-Secret": "wrong"})):
        await refused(stack, await anon.post("/webhooks/service/azure", content=body,
                                             params=params, headers=headers), before)
    response = await anon.post("/webhooks/service/azure", content=body,
                               headers={"X-Listmonk-Webhook-Secret": AZURE_SECRET})
    assert (response.status_code, response.json()) == (200, {"data": True})
    [recorded] = await bounces_of(api, sub["id"])
    assert (recorded["type"], recorded["source"]) == ("hard", "azure")
    assert recorded["meta"]["data"]["status"] == "Failed"
