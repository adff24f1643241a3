"""``POST /api/settings/smtp/test``'s request and answer, with a fake transport."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import pytest

from events.settings import PASSWORD_MASK, AppSettings, SMTPServer
from kernel.errors import InvalidInput
from services.command_api.settings.smtp_test import (
    SMTPTestFailed,
    run_smtp_test,
    smtp_test_request,
)

SAVED = msgspec.structs.replace(AppSettings(), smtp=[
    SMTPServer(uuid="u1", host="smtp.example.org", password="stored-secret")])


def body(**fields: object) -> bytes:
    values: dict[str, object] = {"uuid": "u1", "host": " smtp.example.org ", "port": 587,
                                 "password": PASSWORD_MASK * 13, "email": "to@example.org"}
    return msgspec.json.encode({**values, **fields})


def test_a_masked_password_means_the_saved_server_s() -> None:
    server, to = smtp_test_request(body(), SAVED)
    assert (server.password, server.host, to) == ("stored-secret", "smtp.example.org",
                                                  "to@example.org")
    server, _ = smtp_test_request(body(password="typed"), SAVED)
    assert server.password == "typed"


@pytest.mark.parametrize(("fields", "message"), [
    ({"email": ""}, "Missing field(s): email"),
    ({"host": ""}, "Missing field(s): host"),
    ({"port": "x"}, "Invalid fields: port (expected `int`"),
    ({"port": 0}, "Invalid fields: port"),
    ({"uuid": "other"}, "re-enter the full password"),
])
def test_an_unusable_request_is_a_400(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        smtp_test_request(body(**fields), SAVED)
    assert message in caught.value.message


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    code: int = 0
    detail: str = ""


async def test_the_answer_is_listmonk_s_log_lines_or_the_server_s_error() -> None:
    sent: list[tuple[str, str, str]] = []

    async def accept(server: SMTPServer, to: str, from_email: str) -> Outcome:
        sent.append((server.host, to, from_email))
        return Outcome(True, 250, "queued")

    async def refuse(server: SMTPServer, to: str, from_email: str) -> Outcome:
        return Outcome(False, 535, "authentication failed")

    server = SAVED.smtp[0]
    lines = await run_smtp_test(server, "to@example.org", "N <n@example.org>", accept)
    assert sent == [("smtp.example.org", "to@example.org", "N <n@example.org>")]
    assert lines and "250" in lines[0]
    with pytest.raises(SMTPTestFailed, match="535 authentication failed"):
        await run_smtp_test(server, "to@example.org", "n@example.org", refuse)
