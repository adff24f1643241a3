"""Command-side lookups of the subscriber handlers, through the ``EventStore``.

- The unique e-mail index (``EMAIL_INDEX``): one row per live subscriber keyed by a SHA-256 of
  its lower-cased e-mail (never the address itself), so e-mails are unique case-insensitively.
  Rows are claimed and released in the command's transaction; an erased subscriber's row goes
  with its key (``EventStore.erase_subscribers``).
- Lists are read from their event streams, folded by the list decider (the command side does
  not read read models); lists named by uuid are found by their ``list.created`` event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from events.lists import ListCreated, ListOptin, ListType
from kernel.errors import Conflict
from services.command_api.lists.decider import Active as ActiveList
from services.command_api.lists.decider import list_decider
from services.command_api.lists.decider import stream_id as list_stream
from services.command_api.store import EMAIL_INDEX, EventStore

EMAIL_EXISTS = "E-mail already exists."


def email_hash(email: str) -> str:
    """The index key of an e-mail: hex SHA-256 of its lower-cased form."""
    return hashlib.sha256(email.lower().encode()).hexdigest()


async def claim_email(store: EventStore, subscriber_id: int, email: str) -> None:
    """Index ``email`` as the subscriber's (dropping its previous one); 409 if another
    subscriber has it, including one created by a concurrent, not yet committed command."""
    if await store.claim(EMAIL_INDEX, email_hash(email), subscriber_id) is not None:
        raise Conflict(EMAIL_EXISTS)


async def subscriber_with_email(store: EventStore, email: str) -> int | None:
    """The id of the live subscriber indexed with ``email`` (case-insensitively), if any."""
    return await store.owner(EMAIL_INDEX, email_hash(email))


@dataclass(frozen=True)
class LiveList:
    """A list that exists now, as subscriptions need it."""

    list_id: int
    list_type: ListType
    optin: ListOptin


async def lists_by_id(store: EventStore, list_ids: Iterable[int]) -> dict[int, LiveList]:
    """The lists of ``list_ids`` that exist now (deleted or unknown ones are left out)."""
    wanted = sorted({i for i in list_ids if i > 0})
    if not wanted:
        return {}
    loaded = await store.load_many([list_stream(i) for i in wanted], list_decider)
    return {state.list_id: LiveList(state.list_id, state.list_type, state.optin)
            for state, _ in loaded.values() if isinstance(state, ActiveList)}


async def lists_by_uuid(store: EventStore, uuids: Iterable[str]) -> dict[str, LiveList]:
    """The lists with these uuids that exist now, by lower-cased uuid (public requests and
    pages name lists by uuid, which only their ``list.created`` event holds)."""
    streams = await store.find_streams(ListCreated, "uuid", uuids)
    found = await lists_by_id(store, (_list_id(sid) for sid in streams.values()))
    return {u: found[i] for u, sid in streams.items() if (i := _list_id(sid)) in found}


async def live_lists(store: EventStore, list_ids: Iterable[int]) -> dict[int, ListOptin]:
    """The opt-in type of each of ``list_ids`` that exists now."""
    return {i: found.optin for i, found in (await lists_by_id(store, list_ids)).items()}


def existing_lists(requested: Iterable[int], live: Iterable[int]) -> tuple[int, ...]:
    """The requested list ids that exist, in the order given, without repeats (listmonk
    silently ignores unknown lists)."""
    known = set(live)
    return tuple(i for i in dict.fromkeys(requested) if i in known)





def _list_id(stream_id: str) -> int:
    return int(stream_id.rpartition("-")[2])
