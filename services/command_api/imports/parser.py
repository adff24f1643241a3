"""Reading an import file as listmonk's importer does: the ZIP, the line count, the CSV rows.

- A ``.csv`` upload is read as is; anything else is opened as a ZIP and its first ``.csv`` file
  is used (directories and other files are skipped, with a log line each).
- ``total`` is the number of lines minus the header (a last line without a newline counts).
- Headers ``email`` (required), ``name``, ``attributes`` in any order; surrounding spaces and
  non-ASCII characters (a BOM) are removed; other headers are ignored with a log line.
- Each record is validated like a subscriber created through the API (``subscribers.fields``):
  the e-mail is trimmed, lower-cased and must be a bare address (at most 1000 bytes), an empty
  name is derived from the e-mail; a name must be one line of at most 2000 bytes without
  control characters (``events/validation.py``). A bad record is logged and skipped;
  ``attributes`` that are not a JSON object (or hold a NUL, or nest too deep) are logged and
  the row imported without them. Blank lines are ignored, a record with a different number of
  fields than the header is skipped.

Everything here is blocking file and CPU work: the job runs it in a worker thread.
"""

from __future__ import annotations

import csv
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TextIO

import msgspec

from events.validation import InvalidText, check_json
from kernel.errors import InvalidInput
from services.command_api.subscribers.domains import DOMAIN_REFUSED
from services.command_api.subscribers.fields import (
    EMAIL_MAX_BYTES,
    INVALID_EMAIL,
    name_from_email,
    sanitize_email,
    valid_name,
)
from services.command_api.subscribers.index import email_hash

Log = Callable[[str], None]

KNOWN_HEADERS = ("email", "name", "attributes")
NOT_A_ZIP = "zip: not a valid zip file"
NO_CSV_IN_ZIP = "no CSV files found in the ZIP"
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CHUNK = 1 << 20
MAX_EXTRACTED_BYTES = 32 * 1024**3  # a ZIP bomb stops here rather than fill the disk


class ImportFileError(Exception):
    """The file cannot be imported at all (not a ZIP, no CSV in it, no ``email`` column...)."""


class Row(NamedTuple):
    """A valid record: normalised e-mail, its index key, the name, attributes (None if absent
    or invalid), and its record number (1 = the first record after the header)."""

    line: int
    email: str
    email_hash: str
    name: str
    attribs: dict[str, Any] | None


def count_lines(path: str) -> int:
    """Newlines in the file, plus one for a last line without a newline (like listmonk)."""
    count, last = 0, b""
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (1 if last and last != b"\n" else 0)


def extract_csv(zip_path: str, into: str, log: Log) -> str:
    """Extract the ZIP's first ``.csv`` file into the directory ``into``; its path."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError(NOT_A_ZIP) from None
    with archive:
        for member in archive.infolist():
            name = os.path.basename(member.filename.rstrip("/"))
            if member.is_dir():
                log(f"skipping directory '{name}'")
                continue
            if not name.lower().endswith(".csv"):
                log(f"skipping non .csv file '{name}'")
                continue
            target = os.path.join(into, name)  # the base name only: no path traversal
            log(f"extracting '{name}'")
            try:
                _extract(archive, member, target)
            except Exception as exc:  # corrupt, encrypted, unsupported compression, too big
                log(f"error extracting '{name}': {exc}")
                raise ImportFileError(str(exc)) from None
            log(f"extracted '{name}'")
            return target
    log(NO_CSV_IN_ZIP)
    raise ImportFileError(NO_CSV_IN_ZIP)


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: str) -> None:
    written = 0
    with archive.open(member) as src, open(target, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > MAX_EXTRACTED_BYTES:
                raise ImportFileError(f"the CSV is larger than {MAX_EXTRACTED_BYTES} bytes")
            out.write(chunk)


def parse_attribs(raw: str) -> dict[str, Any] | None:
    """The attributes of a record: a JSON object (``null`` means none); ValueError otherwise."""
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if value is not None and not isinstance(value, dict):
        kind = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
        raise ValueError(f"json: cannot unmarshal {kind} into Go value of type models.JSON")
    return None if value is None else check_json(value, "attributes")


class CsvRows:
    """The valid rows of a CSV file, read in batches; skipped records go to ``log``."""

    def __init__(self, path: str, delim: str, log: Log, display_name: str,
                 accept_email: Callable[[str], bool] | None = None) -> None:
        self._log = log
        self._accept_email = accept_email  # privacy.domain_* (subscribers/domains.py)
        self._file: TextIO = open(  # noqa: SIM115 (closed by close())
            path, encoding="utf-8", errors="replace", newline="")
        self.read = 0  # records read so far (listmonk's line number of the last one)
        self._columns: dict[str, int] = {}
        self._width = 0
        try:
            self._reader = csv.reader(self._file, delimiter=delim, strict=False)
            header = next((r for r in self._reader if r), None)
        except (csv.Error, TypeError, ValueError) as exc:
            self.close()
            log(f"error reading header from '{display_name}': '{exc}'")
            raise ImportFileError(str(exc)) from None
        if header is None:
            self.close()
            log(f"error reading header from '{display_name}': 'EOF'")
            raise ImportFileError("EOF")
        self._width = len(header)
        for index, raw in enumerate(header):
            key = _NON_ASCII.sub("", raw.strip())
            if key not in KNOWN_HEADERS:
                log(f"ignoring unknown header '{key}'")
                continue
            self._columns[key] = index
        if "email" not in self._columns:
            self.close()
            log(f"'email' column not found in '{display_name}'")
            raise ImportFileError("'email' column not found")

    def close(self) -> None:
        self._file.close()

    def batch(self, size: int) -> tuple[list[Row], bool]:
        """Up to ``size`` valid rows, and whether the file is exhausted."""
        rows: list[Row] = []
        records = self._records()
        while len(rows) < size:
            cols = next(records, None)
            if cols is None:
                return rows, True
            row = self._row(cols)
            if row is not None:
                rows.append(row)
        return rows, False

    def _records(self) -> Iterator[list[str]]:
        while True:
            try:
                cols = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.read += 1
                self._log(f"skipping line {self.read}. {exc}")
                continue
            if cols:  # blank lines are not records
                self.read += 1
                yield cols

    def _row(self, cols: list[str]) -> Row | None:
        line = self.read
        if len(cols) != self._width:
            self._log(f"skipping line {line}. record on line {self._reader.line_num}:"
                      " wrong number of fields")
            return None
        columns = self._columns
        raw_email = cols[columns["email"]]
        try:
            if len(raw_email.encode()) > EMAIL_MAX_BYTES:
                raise InvalidInput(INVALID_EMAIL)
            email = sanitize_email(raw_email)
            if self._accept_email is not None and not self._accept_email(email):
                raise InvalidInput(DOMAIN_REFUSED)
        except InvalidInput as exc:
            self._log(f"skipping line {line}: {exc.message}")  # never the row: personal data
            return None
        name_at = columns.get("name")
        try:
            name = valid_name(cols[name_at]) if name_at is not None else ""
        except InvalidText as exc:
            self._log(f"skipping line {line}: {exc.message}")
            return None
        attribs: dict[str, Any] | None = None
        attribs_at = columns.get("attributes")
        if attribs_at is not None and cols[attribs_at]:
            try:
                attribs = parse_attribs(cols[attribs_at])
            except ValueError as exc:
                self._log(f"skipping invalid attributes JSON on line {line}: {exc}")
        return Row(line, email, email_hash(email), name or name_from_email(email), attribs)


def is_csv_name(filename: str) -> bool:
    return filename.lower().endswith(".csv")

