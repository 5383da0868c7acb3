"""How a row is written to a part, read back and checksummed.

A row is one JSON array per line, the values in column order. The backup's connection
reads every value as the text MySQL sends (`sql.connect`), so lines hold strings, NULL and
binary values; the encoder also takes the Python types pymysql's decoders would give:
strings, integers, floats and NULL as JSON; DECIMAL as its exact string; dates and times as
MySQL literals (`str()`, which MySQL parses back to the same value; TIME, a `timedelta`, as
`[-]H:MM:SS.ffffff`); binary values as `{"b64": ...}` (a JSON object can stand for nothing
else: JSON columns arrive as strings).

The server writes most lines itself (`sql.stream_blocks`: `JSON_ARRAY` of the values as
text, the same values, spaced and escaped its own way); this encoder writes the rest, and
`canonical_line` rewrites any line as it would.

A table's checksum is SHA-256 over its lines in primary-key order, as stored: the dump hashes
each part's lines in one call, the restore recomputes it over the lines it loads (a part
altered in any way fails here, whatever its digest claims). The restored rows are proven
against the loaded ones: the restore hashes the canonical form of each line it loads, reads
the table back and hashes the canonical form of each row again. The order is defined
(primary key) rather than order-independent: a sum of row hashes would accept a part loaded
twice and another lost when they cancel, and the key order costs nothing: it is how InnoDB
reads a table anyway.

Parts are gzip (level 1): measured against zstd on a 50,000-row part of `tasks`
(docs/performance.md, "Backup and restore"), it is in the standard library of both runtimes
and needs no native wheel in the layer; the dump compresses in a thread of its own (zlib
releases the GIL), beside the fetch.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

COMPRESSION = "gzip"
CONTENT_TYPE = "application/gzip"
_LEVEL = 1


def _time_literal(value: timedelta) -> str:
    """A TIME value as MySQL writes it (`-838:59:59.000000` .. `838:59:59.000000`)."""
    micros = value // timedelta(microseconds=1)
    sign, micros = ("-" if micros < 0 else ""), abs(micros)
    seconds, micros = divmod(micros, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}:{minutes:02d}:{seconds:02d}.{micros:06d}"


def _encode_value(value: Any) -> Any:
    if isinstance(value, timedelta):
        return _time_literal(value)
    if isinstance(value, (datetime, date, time)):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


_encoder = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=_encode_value, allow_nan=False
)


def encode_row(row: Iterable[Any]) -> bytes:
    """One row as its line (UTF-8, ending in a newline)."""
    return (_encoder.encode(list(row)) + "\n").encode("utf-8")


def decode_line(line: bytes) -> list[Any]:
    """A line back to the values `INSERT` takes (binary values as bytes)."""
    values: list[Any] = json.loads(line)
    return [
        base64.b64decode(value["b64"]) if isinstance(value, dict) else value for value in values
    ]


def canonical_line(line: bytes) -> bytes:
    """The line this encoder writes for the values of `line`, whoever wrote it (the server's
    `JSON_ARRAY` spaces and escapes differently): what a restore compares with the rows it
    reads back, so the proof holds across servers."""
    return encode_row(decode_line(line))


class TableChecksum:
    """Row count and SHA-256 of a table's lines, fed in primary-key order (a line at a time,
    or a block of whole lines: the digest is the same)."""

    def __init__(self) -> None:
        self.rows = 0
        self._sha = hashlib.sha256()

    def add(self, line: bytes) -> None:
        self.rows += 1
        self._sha.update(line)

    def add_block(self, data: bytes, rows: int) -> None:
        self.rows += rows
        self._sha.update(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self._sha.hexdigest()


def compress(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=_LEVEL, mtime=0)


def decompress(data: bytes) -> bytes:
    """The part's lines; a truncated or altered object raises (`OSError`, `EOFError`,
    `zlib.error`): the caller names the table."""
    return gzip.decompress(data)


def lines(data: bytes) -> Iterator[bytes]:
    """The lines of a decompressed part, each with its newline (as the checksum saw it)."""
    start = 0
    while start < len(data):
        end = data.index(b"\n", start) + 1
        yield data[start:end]
        start = end


def part_digest(data: bytes) -> str:
    """SHA-256 of a stored part's bytes, checked before anything is loaded."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
