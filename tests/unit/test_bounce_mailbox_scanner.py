"""The scanner's schedule and the IMAP folder names (no I/O: the pool is never touched)."""

from __future__ import annotations

from typing import Any, cast

import msgspec

from events.settings import AppSettings, BounceMailbox, default_settings
from services.sender.bounce_mailbox.clients import imap_folder
from services.sender.bounce_mailbox.scanner import MailboxScanner, scan_interval


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


async def _never(_: Any) -> int:
    raise AssertionError("nothing is recorded here")


def settings_with(*boxes: BounceMailbox, enabled: bool = True) -> AppSettings:
    return msgspec.structs.replace(default_settings(), bounce_enabled=enabled,
                                   bounce_mailboxes=list(boxes))


BOX = BounceMailbox(uuid="a", enabled=True, host="pop.example.org", scan_interval="15m")


def scanner(clock: Clock) -> MailboxScanner:
    async def no_settings() -> AppSettings:
        raise AssertionError("not read here")

    return MailboxScanner(cast(Any, None), no_settings, _never, clock=clock)


def test_scan_interval_is_listmonks_duration_with_its_floor_and_default() -> None:
    assert scan_interval(BOX) == 900
    assert scan_interval(msgspec.structs.replace(BOX, scan_interval="1h30m")) == 5400
    assert scan_interval(msgspec.structs.replace(BOX, scan_interval="5s")) == 60
    assert scan_interval(msgspec.structs.replace(BOX, scan_interval="soon")) == 900
    assert scan_interval(msgspec.structs.replace(BOX, scan_interval="5s"), minimum=0) == 5


def test_a_mailbox_is_due_once_an_interval_and_at_once_when_it_changes() -> None:
    clock = Clock()
    s = scanner(clock)
    assert s.due(settings_with(BOX)) == [BOX]
    s.scanned(BOX, clock.now)
    assert s.due(settings_with(BOX)) == []
    clock.now += 899
    assert s.due(settings_with(BOX)) == []
    shorter = msgspec.structs.replace(BOX, scan_interval="10m")  # same mailbox, new interval
    assert s.due(settings_with(shorter)) == [shorter]
    moved = msgspec.structs.replace(BOX, port=110)  # another mailbox as far as scans go
    clock.now -= 899
    assert s.due(settings_with(moved)) == [moved]
    clock.now += 900
    assert s.due(settings_with(BOX)) == [BOX]


def test_nothing_is_due_while_bounces_or_the_mailbox_are_off() -> None:
    s = scanner(Clock())
    assert s.due(settings_with(BOX, enabled=False)) == []
    assert s.due(settings_with(msgspec.structs.replace(BOX, enabled=False))) == []


def test_imap_folder_names_are_quoted_in_modified_utf7() -> None:
    assert imap_folder("INBOX") == '"INBOX"'
    assert imap_folder("Bounces/Entwürfe") == '"Bounces/Entw&APw-rfe"'  # RFC 3501's example
    assert imap_folder("A & B") == '"A &- B"'
    assert imap_folder('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
    assert imap_folder("日本語") == '"&ZeVnLIqe-"'
