"""``POST /api/settings/smtp/test``: send one message through the SMTP server in the body.

The body is an SMTP server as ``GET /api/settings`` shows one (it need not be saved), plus
``email``, the recipient. A masked password means the stored server's (matched by uuid), so
a client can test a saved server without retyping its password; anything else is used as
sent. The message goes out from ``app.from_email`` with no retry, on a connection of its own
(``services/sender/messengers/smtp.py: send_test_message``). Nothing is appended: a test
changes no state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

from events.settings import AppSettings, SMTPServer
from events.settings_secrets import is_mask
from events.validation import LINE_MAX_BYTES, check_line
from kernel.errors import InvalidInput
from services.command_api.settings.rules import smtp_server
from services.command_api.settings.secrets import MASK_WITHOUT_SECRET
from services.http.binding import decode_object


class SMTPTestOutcome(Protocol):
    """What the transport answers: delivered or not, with the server's reply."""

    @property
    def delivered(self) -> bool: ...

    @property
    def code(self) -> int: ...

    @property
    def detail(self) -> str: ...


SendTest = Callable[[SMTPServer, str, str], Awaitable[SMTPTestOutcome]]
"""``send(server, to, from_email)``: one message through ``server``, never raising for a
delivery problem (the transport's ``send_test_message``)."""


class SMTPTestFailed(InvalidInput):
    """The server did not take the message; the message is its error (listmonk shows it)."""


def smtp_test_request(body: bytes, stored: AppSettings) -> tuple[SMTPServer, str]:
    """The server to test (password resolved, checked like a saved one) and the recipient;
    a 400 naming the field otherwise."""
    data = decode_object(body) or {}
    to = data.pop("email", None)
    if not isinstance(to, str) or not to.strip():
        raise InvalidInput("Missing field(s): email")
    check_line(to, "email", LINE_MAX_BYTES)
    fields = {k: v for k, v in data.items() if v is not None and k in _SERVER_FIELDS}
    try:
        server = msgspec.convert(fields, SMTPServer)
    except msgspec.ValidationError as exc:
        why, _, where = str(exc).partition(" - at `$")
        raise InvalidInput(f"Invalid fields: {where.rstrip('`').lstrip('.') or 'smtp'}"
                           f" ({why[:1].lower()}{why[1:]})") from None
    server = smtp_server(server, "", set())
    if not server.host:
        raise InvalidInput("Missing field(s): host")
    check_line(server.host, "host", LINE_MAX_BYTES)
    if is_mask(server.password):
        saved = next((s for s in stored.smtp if server.uuid and s.uuid == server.uuid), None)
        if saved is None:
            raise InvalidInput(MASK_WITHOUT_SECRET.format(name="password"))
        server = msgspec.structs.replace(server, password=saved.password)
    return server, to.strip()


async def run_smtp_test(server: SMTPServer, to: str, from_email: str, send: SendTest
                   ) -> list[str]:
    """Send the test; listmonk's answer on success (log lines), ``SMTPTestFailed`` with the
    server's error otherwise."""
    outcome = await send(server, to, from_email)
    where = f"{server.host}:{server.port}"
    if not outcome.delivered:
        reply = f"{outcome.code} {outcome.detail}".strip() if outcome.code else outcome.detail
        raise SMTPTestFailed(f"Error sending through {where}: {reply or 'no answer'}")
    return [f"test message to {to} accepted by {where}: {outcome.code} {outcome.detail}".strip()]


_SERVER_FIELDS: frozenset[str] = frozenset(f.encode_name for f in
                                           msgspec.structs.fields(SMTPServer))
