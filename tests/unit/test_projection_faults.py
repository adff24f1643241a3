"""Which failures are the database's (retry everything), the projection's (stall it) or the
event's (quarantine it after a few attempts)."""

from __future__ import annotations

import msgspec
import psycopg
import pytest
from psycopg import errors
from psycopg_pool import PoolTimeout

from events.registry import UnknownEventType
from projections.faults import ERROR_TEXT_LIMIT, Fault, classify, describe
from projections.storage import ProjectionTablesIncomplete


def _validation_error() -> Exception:
    try:
        msgspec.convert({"x": "not a number"}, dict[str, int])
    except msgspec.ValidationError as exc:
        return exc
    raise AssertionError("expected a validation error")


@pytest.mark.parametrize("exc", [
    errors.AdminShutdown(),  # 57P01: pg_terminate_backend, a restart
    errors.QueryCanceled(),  # 57014
    errors.SerializationFailure(),  # 40001
    errors.DeadlockDetected(),  # 40P01
    errors.TooManyConnections(),  # 53300
    errors.DiskFull(),  # 53100
    errors.LockNotAvailable(),  # 55P03
    errors.ConnectionFailure(),  # 08006
    errors.ReadOnlySqlTransaction(),  # 25006: a failover to a standby
    errors.IoError(),  # 58030
    errors.InternalError_(),  # XX000
    psycopg.OperationalError("server closed the connection unexpectedly"),  # no SQLSTATE
    psycopg.InterfaceError("the connection is closed"),
    PoolTimeout("couldn't get a connection after 10.00 sec"),
    ConnectionResetError(),
    TimeoutError(),
    OSError("network is unreachable"),
])
def test_database_trouble_is_transient(exc: Exception) -> None:
    assert classify(exc) is Fault.TRANSIENT


@pytest.mark.parametrize("exc", [
    errors.ProgramLimitExceeded(),  # 54000 "index row requires ... bytes": an OperationalError
    errors.StringDataRightTruncation(),  # 22001
    errors.InvalidTextRepresentation(),  # 22P02
    errors.UntranslatableCharacter(),  # 22P05 (\\u0000 in jsonb)
    errors.UniqueViolation(),  # 23505
    errors.NotNullViolation(),  # 23502
    errors.CheckViolation(),  # 23514
    errors.SyntaxError(),  # 42601
    errors.DatatypeMismatch(),  # 42804
    errors.FeatureNotSupported(),  # 0A000
    errors.CardinalityViolation(),  # 21000: ON CONFLICT touching a row twice
    psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),  # client-side
    psycopg.ProgrammingError("cannot adapt type 'object'"),  # client-side
    _validation_error(),
    msgspec.DecodeError("JSON is malformed"),
    UnknownEventType("list.exploded"),
    RuntimeError("no upcaster for list.created v0"),
    KeyError("subscriber_id"),
    TypeError("unsupported operand"),
    ValueError("invalid literal for int()"),
])
def test_a_fault_of_the_event_is_deterministic(exc: Exception) -> None:
    assert classify(exc) is Fault.EVENT


@pytest.mark.parametrize("exc", [
    errors.UndefinedTable(),  # 42P01: its tables were dropped
    errors.UndefinedColumn(),  # 42703: code newer than its tables (a rebuild is due)
    errors.InsufficientPrivilege(),  # 42501
    errors.InvalidSchemaName(),  # 3F000
    ProjectionTablesIncomplete("projection lists lacks tables ['lists']"),
])
def test_a_fault_of_the_whole_projection_is_not_blamed_on_an_event(exc: Exception) -> None:
    assert classify(exc) is Fault.PROJECTION


def test_description_names_the_sqlstate_and_class() -> None:
    assert describe(errors.ProgramLimitExceeded("index row requires 30016 bytes")) == (
        "54000 ProgramLimitExceeded: index row requires 30016 bytes")
    assert describe(psycopg.DataError("text fields cannot contain NUL")) == (
        "DataError: text fields cannot contain NUL")


def test_description_keeps_only_the_first_line_of_a_server_error() -> None:
    """The DETAIL line can quote the row being written (personal data)."""
    exc = errors.NotNullViolation('null value in column "name"\nDETAIL:  Failing row contains'
                                  " (2, alice@example.com, null).")
    assert describe(exc) == '23502 NotNullViolation: null value in column "name"'


def test_description_is_storable_in_a_text_column() -> None:
    text = describe(ValueError("bad\x00value\nsecond\tline" + "x" * 1000))
    assert text.startswith("ValueError: bad?value second line")
    assert "\x00" not in text and "\n" not in text
    assert len(text) == ERROR_TEXT_LIMIT
    assert describe(KeyError()) == "KeyError"
