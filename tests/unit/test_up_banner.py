"""`postlog up` says where mail goes (the sender issue's part 8)."""

from __future__ import annotations

import msgspec

from events.settings import PostbackMessenger, SMTPServer, default_settings
from postlog.cli import mail_lines


def test_a_fresh_install_says_mail_is_not_set_up_yet() -> None:
    lines = mail_lines(default_settings())
    assert lines[0].split() == ["mail", "(SMTP):", "smtp.yoursite.com:25,", "STARTTLS",
                                "(listmonk's", "example", "host)"]
    assert "not set up yet" in lines[-1] and "PUT /api/settings" in lines[-1]


def test_real_servers_and_postbacks_are_listed_without_a_warning() -> None:
    settings = msgspec.structs.replace(
        default_settings(),
        smtp=[SMTPServer(host="mail.example.org", port=465, tls_type="TLS"),
              SMTPServer(host="off.example.org", enabled=False)],
        messengers=[PostbackMessenger(name="hook", root_url="https://hooks.example.org/x")])
    assert mail_lines(settings) == [
        "  mail (SMTP):    mail.example.org:465, TLS",
        "  mail (postback): hook -> https://hooks.example.org/x",
    ]


def test_nothing_enabled_says_campaigns_cannot_start() -> None:
    settings = msgspec.structs.replace(default_settings(),
                                       smtp=[SMTPServer(host="a.example.org", enabled=False)])
    [line] = mail_lines(settings)
    assert "campaigns cannot start" in line
