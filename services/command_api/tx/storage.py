"""What queueing a transactional message stores beside the log, and its PostgreSQL adapter.

A message to someone who is not a subscriber is sealed with a key of its own, kept beside the
hash of the address so that erasing the address destroys it; a request's attachments are
stored once, sealed, and each message is granted their key sealed with the key of its content
(``events/message_storage.py``). Both are written in the command's transaction, so a command
that fails leaves neither behind.

``EventStore`` (``services/command_api/store.py``) holds subscribers' keys only; until it
offers these this small port sits beside it, and ``with_tx_storage`` hands a handler both on
the same transaction. Tests use a fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import psycopg

from events.message_storage import (
    AttachmentFile,
    Grant,
    create_message_key,
    grant_attachments,
    store_attachments,
)
from events.messages import AttachmentRef
from services.command_api.store import Ports


class TxStorage(Protocol):
    """Message keys and sealed attachments, inside the command's transaction."""

    async def message_key(self, message_id: str, email: str) -> bytes:
        """A new key for the message ``message_id`` to ``email`` (not a subscriber); erasing
        the address destroys it."""
        ...

    async def attach(self, files: Sequence[AttachmentFile], grants: Sequence[Grant]
                     ) -> list[AttachmentRef]:
        """Store ``files`` sealed, once, and let each granted message open them; their
        references in the same order."""
        ...




class PostgresTxStorage:
    """``TxStorage`` in ``eventlog.message_keys``, ``eventlog.attachments`` and
    ``eventlog.attachment_keys``; keys wrapped with the master key when there is one."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], master_key: bytes | None = None
                 ) -> None:
        self.conn = conn
        self.master_key = master_key

    async def message_key(self, message_id: str, email: str) -> bytes:
        return await create_message_key(self.conn, message_id, email, master_key=self.master_key)

    async def attach(self, files: Sequence[AttachmentFile], grants: Sequence[Grant]
                     ) -> list[AttachmentRef]:
        stored = await store_attachments(self.conn, files)
        await grant_attachments(self.conn, stored, grants)
        return [s.ref for s in stored]


TX_STORAGE: Ports = {"storage": lambda conn, master_key: PostgresTxStorage(conn, master_key)}
"""The port ``storage`` the executor builds on the command's transaction for this area's
handlers (``execute_handler(..., ports=TX_STORAGE)``)."""
