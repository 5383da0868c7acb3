"""Audit rows leave the database only once they are in object storage: one gzip JSON-lines
object per batch, written through the storage port before the batch is deleted.

The object's key and bytes depend on the rows alone (`archive/audit_logs/<day of the first
row>/<first id>-<last id>.jsonl.gz`, gzip with no timestamp), so a run that stopped between
writing and deleting writes the same object again next time: nothing is lost or doubled.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from retouch.core.time import from_db

PREFIX = "archive/audit_logs/"
CONTENT_TYPE = "application/gzip"
_JSON_COLUMNS = ("before_state", "after_state")


def archive_key(rows: Sequence[dict[str, Any]]) -> str:
    """Where the batch `rows` (oldest first, non-empty) is archived."""
    first, last = rows[0], rows[-1]
    day = from_db(first["created_at"]).strftime("%Y/%m/%d")
    return f"{PREFIX}{day}/{int(first['id']):012d}-{int(last['id']):012d}.jsonl.gz"


def archive_body(rows: Sequence[dict[str, Any]]) -> bytes:
    """The rows as gzip-compressed JSON lines, one object per row, JSON columns as JSON."""
    lines = [json.dumps(_record(row), sort_keys=True, ensure_ascii=False) for row in rows]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def read_archive(body: bytes) -> list[dict[str, Any]]:
    """The records of an archive object (operators; tests)."""
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines() if line]


def _record(row: dict[str, Any]) -> dict[str, Any]:
    record = dict(row)
    for column in _JSON_COLUMNS:
        if isinstance(record.get(column), str | bytes):
            record[column] = json.loads(record[column])
    created = record["created_at"]
    if isinstance(created, datetime):
        record["created_at"] = from_db(created).isoformat()
    return record
