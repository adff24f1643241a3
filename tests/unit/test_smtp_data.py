"""The message bytes the SMTP session sends after DATA are the ones aiosmtplib would send:
``dot_stuffed`` on a message with CRLF line ends equals aiosmtplib's line-end rewrite and
dot doubling; anything else is left to aiosmtplib (``crlf_only``)."""

from __future__ import annotations

import pytest
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import given
from hypothesis import strategies as st

from services.sender.messengers.smtp_transport import crlf_only, dot_stuffed


def aiosmtplib_data(message: bytes) -> bytes:
    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message))


_LINES = st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
                  | st.sampled_from([b".", b"..", b".x", b"", b" .", b"a."]), max_size=8)


@given(lines=_LINES, last=st.booleans())
def test_a_crlf_message_is_sent_as_aiosmtplib_sends_it(lines: list[bytes], last: bool) -> None:
    message = b"\r\n".join(lines) + (b"\r\n" if last else b"")
    assert crlf_only(message)
    assert dot_stuffed(message) == aiosmtplib_data(message)


@pytest.mark.parametrize("message", [b"a\nb", b"a\rb", b"a\r\r\nb", b"a\n\r\nb", b"\n"])
def test_a_bare_cr_or_lf_is_left_to_aiosmtplib(message: bytes) -> None:
    assert not crlf_only(message)
