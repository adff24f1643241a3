"""The SMTP messenger against real SMTP servers in the test process (aiosmtpd): TLS, AUTH,
what arrives, connection reuse, retries, permanent refusals, dropped connections and the
pool's limits. No database is needed."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from services.sender.messengers.inflight import MessengerClosed
from services.sender.messengers.smtp import SMTPServerPool, error_text, send_test_message
from services.sender.messengers.smtp_transport import aiosmtplib_connector
from tests.certificates import Certificate, self_signed_certificate
from tests.integration.smtp_support import PASSWORD, USER, outgoing, start_smtp_server


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    directory: Path = tmp_path_factory.mktemp("smtp-tls")
    return self_signed_certificate(directory)


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.fixture
async def pools() -> AsyncIterator[list[SMTPServerPool]]:
    """Pools a test opened, closed at its end (before its server stops)."""
    opened: list[SMTPServerPool] = []
    yield opened
    await asyncio.gather(*(p.close() for p in opened))


def pool_for(pools: list[SMTPServerPool], server: Any, **kwargs: Any) -> SMTPServerPool:
    pool = SMTPServerPool(server, **kwargs)
    pools.append(pool)
    return pool


async def test_message_arrives_with_headers_body_and_envelope(
        pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        server = smtp.settings(email_headers=[{"X-Server": "one"}, {"X-Custom": "server"}])
        pool = pool_for(pools, server)
        message = outgoing(headers=[("X-Custom", "message"),
                                    ("Return-Path", "bounces@example.com")])
        result = await pool.send(message)

        assert result.delivered and result.code == 250
        [received] = smtp.recorder.messages
        assert received.mail_from == "bounces@example.com"
        assert received.rcpt_tos == ["ana@example.org"]
        mail = parse(received.content)
        assert mail["From"] == "Example News <news@example.com>"
        assert mail["To"] == "ana@example.org"
        assert mail["Subject"] == "Hello Ana"
        assert mail["Message-Id"] == f"<{message.message_id}@example.com>"
        assert mail["X-Server"] == "one"
        assert mail["X-Custom"] == "message"  # the message's header wins over the server's
        assert mail["Return-Path"] is None  # envelope only
        assert mail.get_content_type() == "text/html"  # no alt body: HTML alone, as listmonk
        assert "Hi Ana, here is the news." in mail.get_content()


@pytest.mark.parametrize("protocol, mechanism", [("plain", "PLAIN"), ("login", "LOGIN"),
                                                 ("cram", "CRAM-MD5")])
async def test_starttls_with_a_self_signed_certificate_and_auth(
        pools: list[SMTPServerPool], certificate: Certificate, protocol: str,
        mechanism: str) -> None:
    async with start_smtp_server(tls="STARTTLS", certificate=certificate, auth=True) as smtp:
        server = smtp.settings(tls_type="STARTTLS", tls_skip_verify=True,
                               auth_protocol=protocol, username=USER, password=PASSWORD)
        result = await pool_for(pools, server).send(outgoing())

        assert result.delivered, result
        assert smtp.recorder.auth_mechanisms == [mechanism]
        assert [m.login for m in smtp.recorder.messages] == [USER]


async def test_starttls_checks_the_certificate_unless_told_not_to(
        pools: list[SMTPServerPool], certificate: Certificate) -> None:
    async with start_smtp_server(tls="STARTTLS", certificate=certificate) as smtp:
        server = smtp.settings(tls_type="STARTTLS", tls_skip_verify=False, max_msg_retries=0)
        refused = await pool_for(pools, server).send(outgoing())
        trusted = pool_for(pools, server, connector=aiosmtplib_connector(
            server, trust=certificate.client_trust()))
        accepted = await trusted.send(outgoing())

        assert not refused.delivered and refused.temporary
        assert "certificate verify failed" in refused.detail
        assert refused.detail.startswith("tls failed:")
        assert accepted.delivered
        assert len(smtp.recorder.messages) == 1


async def test_implicit_tls_with_login(pools: list[SMTPServerPool],
                                       certificate: Certificate) -> None:
    async with start_smtp_server(tls="TLS", certificate=certificate, auth=True) as smtp:
        server = smtp.settings(tls_type="TLS", tls_skip_verify=True, auth_protocol="login",
                               username=USER, password=PASSWORD)
        result = await pool_for(pools, server).send(outgoing())

        assert result.delivered
        assert smtp.recorder.auth_mechanisms == ["LOGIN"]
        assert len(smtp.recorder.messages) == 1


async def test_a_wrong_password_reports_the_servers_answer(
        pools: list[SMTPServerPool], certificate: Certificate) -> None:
    async with start_smtp_server(tls="STARTTLS", certificate=certificate, auth=True) as smtp:
        server = smtp.settings(tls_type="STARTTLS", tls_skip_verify=True, auth_protocol="plain",
                               username=USER, password="wrong", max_msg_retries=0)
        result = await pool_for(pools, server).send(outgoing())

        assert not result.delivered and result.temporary
        assert result.code == 535
        assert error_text(result) == "535 auth failed: 5.7.8 Authentication credentials invalid"
        assert smtp.recorder.messages == []


async def test_connections_are_reused_across_messages(pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        pool = pool_for(pools, smtp.settings(max_conns=3))
        results = [await pool.send(outgoing(f"reader{i}@example.org")) for i in range(5)]

        assert all(r.delivered for r in results)
        assert smtp.recorder.connections == 1
        assert [m.connection for m in smtp.recorder.messages] == [1] * 5
        assert [m.rcpt_tos for m in smtp.recorder.messages] == [
            [f"reader{i}@example.org"] for i in range(5)]


async def test_a_connection_the_server_closed_while_idle_is_replaced(
        pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        pool = pool_for(pools, smtp.settings(max_msg_retries=0))
        assert (await pool.send(outgoing())).delivered
        smtp.recorder.drop_connections()
        result = await pool.send(outgoing())

        assert result.delivered, result
        assert [m.connection for m in smtp.recorder.messages] == [1, 2]


async def test_451_then_250_is_retried_after_the_delay_and_delivered_once(
        pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        smtp.recorder.data_replies = ["451 4.3.0 Try again later"]
        pool = pool_for(pools, smtp.settings(max_msg_retries=2, msg_retry_delay="200ms"))
        result = await pool.send(outgoing())

        assert result.delivered and result.code == 250
        assert len(smtp.recorder.messages) == 1
        first, second = smtp.recorder.data_attempts
        assert second - first >= 0.2


async def test_4xx_until_the_retries_run_out_is_temporary(pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        smtp.recorder.data_replies = ["452 4.2.2 Mailbox full"] * 3
        result = await pool_for(pools, smtp.settings(max_msg_retries=2)).send(outgoing())

        assert not result.delivered and result.temporary
        assert (result.code, result.detail) == (452, "4.2.2 Mailbox full")
        assert len(smtp.recorder.data_attempts) == 3


async def test_550_is_permanent_with_code_and_text_and_not_retried(
        pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        smtp.recorder.data_replies = ["550 5.7.1 Message rejected as spam"]
        smtp.recorder.rcpt_replies = {"gone@example.org": "550 5.1.1 No such user here"}
        pool = pool_for(pools, smtp.settings(max_msg_retries=2))
        rejected = await pool.send(outgoing())
        unknown = await pool.send(outgoing("gone@example.org"))
        after = await pool.send(outgoing())

        assert not rejected.delivered and not rejected.temporary
        assert (rejected.code, rejected.detail) == (550, "5.7.1 Message rejected as spam")
        assert not unknown.delivered and not unknown.temporary
        assert (unknown.code, unknown.detail) == (550, "5.1.1 No such user here")
        assert error_text(unknown) == "550 5.1.1 No such user here"
        assert len(smtp.recorder.data_attempts) == 2  # the refused DATA once, then `after`
        assert after.delivered and smtp.recorder.connections == 1  # RSET kept it usable


async def test_a_connection_dropped_mid_message_is_temporary(
        pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        smtp.recorder.drop_on_data = 3
        pool = pool_for(pools, smtp.settings(max_msg_retries=2))
        result = await pool.send(outgoing())

        assert not result.delivered and result.temporary and result.code == 0
        assert "connection lost" in result.detail
        assert len(smtp.recorder.data_attempts) == 3
        assert smtp.recorder.messages == []


async def test_a_server_that_stops_answering_is_temporary(
        pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        smtp.recorder.gate = asyncio.Event()  # DATA never answered
        server = smtp.settings(max_msg_retries=0)
        pool = pool_for(pools, server, connector=aiosmtplib_connector(server,
                                                                      command_timeout=0.2))
        result = await pool.send(outgoing())
        smtp.recorder.gate.set()

        assert not result.delivered and result.temporary and result.code == 0
        assert result.detail.startswith("no reply in time")
        assert pool.pool.idle == 0  # the session was dropped, not reused


async def test_a_dropped_message_is_delivered_on_a_new_connection(
        pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        smtp.recorder.drop_on_data = 1
        result = await pool_for(pools, smtp.settings(max_msg_retries=1)).send(outgoing())

        assert result.delivered
        assert [m.connection for m in smtp.recorder.messages] == [2]


async def test_the_pool_never_opens_more_than_max_conns(pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        smtp.recorder.gate = asyncio.Event()
        pool = pool_for(pools, smtp.settings(max_conns=3, wait_timeout="30s"))
        sends = [asyncio.create_task(pool.send(outgoing(f"r{i}@example.org")))
                 for i in range(8)]
        await smtp.recorder.wait_for(lambda: smtp.recorder.in_data == 3)
        assert pool.pool.leased == 3
        smtp.recorder.gate.set()
        results = await asyncio.gather(*sends)

        assert all(r.delivered for r in results)
        assert len(smtp.recorder.messages) == 8
        assert smtp.recorder.most_open == 3 and smtp.recorder.connections == 3
        assert smtp.recorder.most_in_data == 3


async def test_a_busy_pool_gives_up_after_wait_timeout(pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        smtp.recorder.gate = asyncio.Event()
        pool = pool_for(pools, smtp.settings(max_conns=1, wait_timeout="200ms"))
        first = asyncio.create_task(pool.send(outgoing()))
        await smtp.recorder.wait_for(lambda: smtp.recorder.in_data == 1)
        waited = await pool.send(outgoing("second@example.org"))
        smtp.recorder.gate.set()

        assert not waited.delivered and waited.temporary and waited.code == 0
        assert "no free connection" in waited.detail
        assert (await first).delivered
        assert smtp.recorder.connections == 1


async def test_idle_connections_close_after_idle_timeout(pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        pool = pool_for(pools, smtp.settings(idle_timeout="200ms"))
        assert (await pool.send(outgoing())).delivered
        await smtp.recorder.wait_for(lambda: smtp.recorder.closed_connections == 1)

        assert pool.pool.idle == 0
        assert (await pool.send(outgoing())).delivered
        assert smtp.recorder.connections == 2


async def test_close_waits_for_messages_in_flight(pools: list[SMTPServerPool]) -> None:
    async with start_smtp_server() as smtp:
        smtp.recorder.gate = asyncio.Event()
        pool = pool_for(pools, smtp.settings())
        sending = asyncio.create_task(pool.send(outgoing()))
        await smtp.recorder.wait_for(lambda: smtp.recorder.in_data == 1)
        closing = asyncio.create_task(pool.close())
        done, _ = await asyncio.wait({closing}, timeout=0.2)
        assert not done  # still waiting for the message under way
        smtp.recorder.gate.set()

        assert (await sending).delivered
        await closing
        await smtp.recorder.wait_for(lambda: smtp.recorder.closed_connections == 1)
        with pytest.raises(MessengerClosed):
            await pool.send(outgoing())


async def test_send_test_message_delivers_or_reports_the_smtp_error(
        certificate: Certificate) -> None:
    async with start_smtp_server(tls="STARTTLS", certificate=certificate, auth=True) as smtp:
        good = smtp.settings(tls_type="STARTTLS", tls_skip_verify=True, auth_protocol="login",
                             username=USER, password=PASSWORD, enabled=False)
        sent = await send_test_message(good, to="admin@example.org",
                                       from_email="postlog <noreply@example.com>")
        wrong = smtp.settings(tls_type="STARTTLS", tls_skip_verify=True,
                              auth_protocol="login", username=USER, password="nope")
        failed = await send_test_message(wrong, to="admin@example.org",
                                         from_email="noreply@example.com")
        await smtp.recorder.wait_for(lambda: smtp.recorder.open_connections == 0)

        assert sent.delivered
        [received] = smtp.recorder.messages
        assert received.rcpt_tos == ["admin@example.org"]
        assert parse(received.content)["Subject"] == "postlog: SMTP test"
        assert not failed.delivered
        assert "535" in error_text(failed) and "Authentication credentials invalid" in (
            error_text(failed))


async def test_send_test_message_reports_a_refused_connection() -> None:
    async with start_smtp_server() as smtp:
        server = smtp.settings()
    result = await send_test_message(server, to="a@example.org", from_email="b@example.com")

    assert not result.delivered and result.temporary and result.code == 0
    assert result.detail.startswith("connect failed:")
