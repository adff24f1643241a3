"""The HTTP postback messenger: each message POSTed as listmonk's JSON to a URL.

One messenger per enabled ``messengers[]`` entry of the settings, named by its ``name``. The
body is listmonk's postback payload, key for key (``internal/messenger/postback``):

    {"subject", "from_email", "content_type", "body",
     "recipients": [{"uuid", "email", "name", "attribs", "status"}],
     "campaign": {"from_email", "uuid", "name", "headers", "tags"} | null,
     "attachments": [{"name", "header": {name: [values]}, "content": base64}] | null}

``campaign`` is ``null`` for a message outside a campaign (transactional, opt-in) and
``attachments`` ``null`` when there is none, as Go writes nil values; an attachment's
``header`` holds the MIME headers listmonk makes for it and ``content`` its bytes in standard
base64 (Go's encoding of ``[]byte``).

Answers: 2xx delivered; 5xx, 408, 429, timeouts and connection errors temporary (retried
``max_msg_retries`` times after ``retry_delay``, then reported); any other status permanent
with the status and the start of the response body. listmonk treats every status but 200 as
an error and never retries (its ``retries`` option is not read from the settings). Requests
carry Basic auth when a username is set, use at most ``max_conns`` connections (kept alive
between messages) and give up after ``timeout``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import msgspec
import structlog

from events.message_storage import AttachmentFile
from events.settings import PostbackMessenger
from services.sender.messengers.base import DeliveryResult, OutgoingMessage
from services.sender.messengers.durations import duration_or, positive
from services.sender.messengers.inflight import InFlight
from services.sender.messengers.ratelimit import UNLIMITED, Limiter

log = structlog.get_logger(__name__)

USER_AGENT = "postlog"
RETRY_DELAY = 0.5
_DETAIL_BYTES = 512  # of an error response's body kept in the result


class _Recipient(msgspec.Struct):
    uuid: str
    email: str
    name: str
    attribs: dict[str, Any]
    status: str


class _Campaign(msgspec.Struct):
    from_email: str
    uuid: str
    name: str
    headers: list[dict[str, str]]
    tags: list[str]


class _Attachment(msgspec.Struct):
    name: str
    header: dict[str, list[str]]
    content: bytes  # msgspec writes bytes as standard base64, as Go does


class _Payload(msgspec.Struct):
    subject: str
    from_email: str
    content_type: str
    body: str
    recipients: list[_Recipient]
    campaign: _Campaign | None
    attachments: list[_Attachment] | None


_encoder = msgspec.json.Encoder()


def attachment_header(file: AttachmentFile) -> dict[str, list[str]]:
    """The MIME headers listmonk gives an attachment (canonical names, sorted as Go's JSON
    encoder sorts map keys)."""
    content_type = file.content_type or "application/octet-stream"
    return {"Content-Disposition": [f"attachment; filename={file.name}"],
            "Content-Transfer-Encoding": ["base64"],
            "Content-Type": [f'{content_type}; name="{file.name}"']}


def postback_payload(message: OutgoingMessage) -> bytes:
    """The JSON body POSTed for ``message``."""
    recipient = message.recipient
    campaign = message.campaign
    return _encoder.encode(_Payload(
        subject=message.content.subject,
        from_email=message.from_email,
        content_type=message.content_type,
        body=message.content.body,
        recipients=[_Recipient(uuid=recipient.uuid, email=recipient.email, name=recipient.name,
                               attribs=dict(recipient.attribs), status=recipient.status)],
        campaign=None if campaign is None else _Campaign(
            from_email=campaign.from_email, uuid=campaign.uuid, name=campaign.name,
            headers=[dict(h) for h in campaign.headers], tags=list(campaign.tags)),
        attachments=[_Attachment(name=f.name, header=attachment_header(f), content=f.content)
                     for f in message.attachments] or None))


def result_for_status(status: int, body: str) -> DeliveryResult:
    """2xx delivered; 5xx, 408 and 429 temporary; anything else permanent."""
    if 200 <= status < 300:
        return DeliveryResult.ok(status, body)
    detail = f"HTTP {status}: {body}" if body else f"HTTP {status}"
    if status >= 500 or status in (408, 429):
        return DeliveryResult.retry_later(status, detail)
    return DeliveryResult.refused(status, detail)


class HTTPPostback:
    """A postback messenger for one ``messengers[]`` entry."""

    def __init__(self, config: PostbackMessenger, *, limiter: Limiter = UNLIMITED,
                 retry_delay: float = RETRY_DELAY,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.name = config.name
        self.config = config
        self.url = config.root_url
        self.limiter = limiter
        self.retries = max(0, config.max_msg_retries)
        self.retry_delay = retry_delay
        conns = max(1, config.max_conns)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(positive(duration_or(config.timeout, 5.0), 5.0)),
            limits=httpx.Limits(max_connections=conns, max_keepalive_connections=conns),
            auth=httpx.BasicAuth(config.username, config.password) if config.username else None,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
            transport=transport, follow_redirects=False)
        self._inflight = InFlight(self.name)

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        with self._inflight.track():
            body = postback_payload(message)
            attempt = 0
            while True:
                await self.limiter.acquire()
                result = await self._post(body)
                if result.delivered or not result.temporary or attempt >= self.retries:
                    break
                attempt += 1
                await asyncio.sleep(self.retry_delay)
            if not result.delivered:  # never the answer's text: it may hold personal data
                log.info("postback_not_delivered", messenger=self.name, code=result.code,
                         temporary=result.temporary, attempts=attempt + 1)
            return result

    async def _post(self, body: bytes) -> DeliveryResult:
        try:
            async with self._client.stream("POST", self.url, content=body) as response:
                text = await _start_of(response)
                return result_for_status(response.status_code, text)
        except httpx.TimeoutException as exc:
            return DeliveryResult.retry_later(0, f"timed out: {type(exc).__name__}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return DeliveryResult.retry_later(0, f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        """Wait for messages under way, then close the connections."""
        await self._inflight.drain()
        await self._client.aclose()


async def _start_of(response: httpx.Response) -> str:
    """The first bytes of the body (all of it when short, so the connection is reused)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _DETAIL_BYTES:
            break
    text = b"".join(chunks)[:_DETAIL_BYTES].decode("utf-8", "replace")
    return " ".join(text.split())
