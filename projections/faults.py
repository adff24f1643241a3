"""Why applying an event failed: the database, the projection as a whole, or that one event.

The runner and the rebuild react differently to each (docs/projections.md):

- ``TRANSIENT``: the database or the network is in trouble (connection lost, serialization
  failure or deadlock, out of resources, administrator shutdown, pool exhausted). Retrying the
  same work later can succeed: back off and retry everything.
- ``PROJECTION``: the projection's tables are not what its code expects (a table or column
  missing, no privilege, some tables missing). Every event would fail the same way: stop that
  projection, retry with back-off, and wait for a rebuild or a fix. Quarantining events here
  would freeze every stream for a fault of none of them.
- ``EVENT``: deterministic for this event in this projection (bad data for a column, a value
  too large for an index, a constraint, an event that does not decode or upcast, an exception
  raised by the projection's code). Retrying gives the same answer, so after a few attempts
  the event is quarantined and the projection goes on.

Classification goes by SQLSTATE class when the server sent one, otherwise by exception type
(psycopg's client-side errors carry no SQLSTATE).
"""

from __future__ import annotations

import enum
import re

import psycopg
from psycopg_pool import PoolTimeout

from projections.storage import ProjectionTablesIncomplete


class Fault(enum.Enum):
    TRANSIENT = "transient"
    PROJECTION = "projection"
    EVENT = "event"


# SQLSTATE classes of a database in trouble rather than of the statement: 08 connection,
# 25 invalid transaction state (e.g. read-only after a failover), 28 authorisation, 40
# serialization failure / deadlock, 53 insufficient resources, 55 lock not available / object in
# use, 57 operator intervention (admin shutdown, pg_terminate_backend, query cancelled), 58
# system error, F0 configuration file, XX internal error (data or index corruption).
TRANSIENT_CLASSES = frozenset({"08", "25", "28", "40", "53", "55", "57", "58", "F0", "XX"})
# SQLSTATEs that say the projection's tables do not match its code: undefined table or column,
# insufficient privilege, schema missing.
PROJECTION_STATES = frozenset({"42P01", "42703", "42501", "3F000"})
# Client-side psycopg errors (no SQLSTATE) caused by the values sent: NUL in text, a value
# that cannot be adapted, a wrong number of parameters.
_CLIENT_SIDE_EVENT_ERRORS = (
    psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError,
    psycopg.NotSupportedError,
)

ERROR_TEXT_LIMIT = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def classify(exc: BaseException) -> Fault:
    """Which kind of failure ``exc`` is (see the module docstring)."""
    if isinstance(exc, ProjectionTablesIncomplete):
        return Fault.PROJECTION
    if isinstance(exc, PoolTimeout | OSError | MemoryError):
        return Fault.TRANSIENT
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        if state:
            if state[:2] in TRANSIENT_CLASSES:
                return Fault.TRANSIENT
            return Fault.PROJECTION if state in PROJECTION_STATES else Fault.EVENT
        # No SQLSTATE: raised by psycopg itself. Connection trouble is an OperationalError or
        # an InterfaceError; errors about the values sent are the others.
        return Fault.EVENT if isinstance(exc, _CLIENT_SIDE_EVENT_ERRORS) else Fault.TRANSIENT
    return Fault.EVENT


def describe(exc: BaseException) -> str:
    """A one-line account of ``exc`` that is safe to store and log.

    For a server error: SQLSTATE, class and primary message, never the DETAIL or CONTEXT lines
    (they can quote the row being written, i.e. personal data). Control characters (a NUL
    cannot be stored in a text column) become ``?``; the text is cut at ``ERROR_TEXT_LIMIT``.
    """
    name = type(exc).__name__
    if isinstance(exc, psycopg.Error):
        primary = exc.diag.message_primary if exc.sqlstate else None
        text = primary or str(exc).split("\n", 1)[0]
        text = f"{exc.sqlstate} {name}: {text}" if exc.sqlstate else f"{name}: {text}"
    else:
        message = str(exc)
        text = f"{name}: {message}" if message else name
    return _CONTROL.sub("?", text.replace("\n", " ").replace("\t", " "))[:ERROR_TEXT_LIMIT]
