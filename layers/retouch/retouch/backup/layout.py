"""Where a backup lives in object storage, and its manifest.

    backups/<id>/<table>/<n>.jsonl.gz   the parts, written first
    backups/<id>/manifest.json          written after every part
    backups/index.json                  the completed backups, updated after the manifest
    backups/latest                      the newest completed id, updated last

A backup is complete when its manifest exists; readers find backups through the index and
`latest` only, so a backup that failed part-way is never seen (its parts are deleted on the
way out where the storage allows). The index stands in for a listing, which the storage port
does not offer: retention reads it instead of the bucket. Ids sort by time
(`20261205T221500Z-1a2b`: the start in UTC, then random hex so two runs never collide).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from retouch.backup.errors import BackupCorrupt, BackupNotFound
from retouch.storage import ObjectNotFound, Storage

PREFIX = "backups"
INDEX_KEY = f"{PREFIX}/index.json"
LATEST_KEY = f"{PREFIX}/latest"
_ID_TIME = "%Y%m%dT%H%M%SZ"
_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$", re.ASCII)
#: 2: lines written by the server where it can, the manifest signed (`signing`); 1 is read.
FORMAT = 2
READABLE_FORMATS = (1, 2)


def new_backup_id(started_at: datetime) -> str:
    return f"{started_at.astimezone(timezone.utc).strftime(_ID_TIME)}-{secrets.token_hex(2)}"


def backup_time(backup_id: str) -> datetime:
    """When the backup started, read from its id."""
    return datetime.strptime(backup_id.split("-", 1)[0], _ID_TIME).replace(tzinfo=timezone.utc)


def part_key(backup_id: str, table: str, number: int) -> str:
    return f"{PREFIX}/{backup_id}/{table}/{number:06d}.jsonl.gz"


def manifest_key(backup_id: str) -> str:
    return f"{PREFIX}/{backup_id}/manifest.json"


@dataclass
class Part:
    key: str
    rows: int
    size: int
    sha256: str


@dataclass
class TableEntry:
    """One table: its DDL, columns and key, and what the dump counted while streaming."""

    name: str
    ddl: str
    columns: list[str]
    primary_key: list[str]
    rows: int = 0
    checksum: str = ""
    parts: list[Part] = field(default_factory=list)


@dataclass
class Manifest:
    id: str
    database: str
    started_at: str
    schema_version: list[str]
    tables: list[TableEntry]
    finished_at: str = ""
    duration_s: float = 0.0
    size: int = 0
    compression: str = "gzip"
    format: int = FORMAT
    key_id: str = ""
    signature: str = ""

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw: dict[str, Any] = json.loads(data)
        tables = [
            TableEntry(**{**table, "parts": [Part(**part) for part in table["parts"]]})
            for table in raw.pop("tables")
        ]
        return cls(**raw, tables=tables)


def read_manifest(storage: Storage, backup_id: str) -> Manifest:
    try:
        data = storage.get(manifest_key(backup_id))
    except ObjectNotFound:
        raise BackupNotFound(f"backup {backup_id} has no manifest") from None
    try:
        manifest = Manifest.from_json(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise BackupCorrupt(f"backup {backup_id}: unreadable manifest") from exc
    if manifest.format not in READABLE_FORMATS:
        raise BackupCorrupt(
            f"backup {backup_id}: format {manifest.format} is not one this restore reads "
            f"({', '.join(map(str, READABLE_FORMATS))})"
        )
    return manifest


def read_index(storage: Storage) -> list[str]:
    """The completed backups, oldest first (empty before the first one)."""
    try:
        data = storage.get(INDEX_KEY)
    except ObjectNotFound:
        return []
    return sorted(json.loads(data)["backups"])


def write_index(storage: Storage, backup_ids: list[str]) -> None:
    body = json.dumps({"backups": sorted(backup_ids)}).encode()
    storage.put(INDEX_KEY, body, "application/json")


def latest_id(storage: Storage) -> str:
    try:
        return storage.get(LATEST_KEY).decode().strip()
    except ObjectNotFound:
        raise BackupNotFound("no backup has completed yet") from None


def resolve(storage: Storage, backup: str) -> Manifest:
    """The manifest of `backup`: an id, or `latest`."""
    backup_id = latest_id(storage) if backup == "latest" else backup
    if not _ID.fullmatch(backup_id):
        raise BackupNotFound(f"{backup_id!r} is not a backup id (like 20261205T221500Z-1a2b)")
    return read_manifest(storage, backup_id)
