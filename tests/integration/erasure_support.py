"""Helpers of the account deletion tests: an account whose numeric id, public id and address
are each long and unique enough to be searched for as text anywhere, the data such an account
leaves (uploads, tasks and their objects, a paid order, audit rows, idempotency keys), and the
scans that look for it in every table and every stored object."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pymysql

from retouch.core.db import get_database
from retouch.core.ids import new_public_id
from retouch.core.redis import get_redis
from retouch.core.security import hash_password
from retouch.core.settings import get_settings
from retouch.core.time import to_db, utc_now
from retouch.quota.service import open_account
from retouch.storage import Storage, output_key, upload_key, work_key
from tests.integration.identity_support import PASSWORD, new_email

#: information_schema data types that hold text (MariaDB's JSON is a LONGTEXT).
TEXT_TYPES = ("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json", "enum")


@dataclass(frozen=True)
class Person:
    """An account as the tests know it: what must not survive its erasure."""

    id: int
    public_id: str
    email: str

    @property
    def needles(self) -> tuple[str, ...]:
        return (str(self.id), self.public_id, self.email)


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


def new_person() -> Person:
    """An active, verified account with a credit account and a twelve-digit numeric id (no
    other number in the database is that long, so finding it as text means it was kept)."""
    person = Person(
        id=secrets.randbelow(9 * 10**11) + 10**11,
        public_id=new_public_id("usr"),
        email=new_email("erase"),
    )
    now = utc_now()
    with get_database().unit_of_work() as uow:
        uow.execute(
            "INSERT INTO users (id, public_id, email, password_hash, email_verified_at, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (person.id, person.public_id, person.email, _hash(), *[to_db(now)] * 3),
        )
        open_account(uow=uow, user_id=person.id)
        uow.commit()
    return person


def stored_upload(storage: Storage, person: Person) -> str:
    """A ready upload of `person` with its object stored; the upload's public id."""
    public_id = new_public_id("upl")
    key = upload_key(user_id=person.public_id, upload_id=public_id)
    storage.put(key, b"\x89PNG upload", "image/png")
    with get_database().unit_of_work() as uow:
        uow.execute(
            "INSERT INTO uploads (public_id, user_id, object_key, content_type, declared_size, "
            "status, width, height, actual_size) "
            "VALUES (%s, %s, %s, 'image/png', 100, 'ready', 8, 8, 100)",
            (public_id, person.id, key),
        )
        uow.commit()
    return public_id


def finished_with_objects(storage: Storage, task_id: str) -> list[str]:
    """End `task_id` as the pipeline does: a result object, and an intermediate image named in
    its `prepare` step's state. The keys stored."""
    result = output_key(task_id=task_id, name="0.png")
    prepared = work_key(task_id=task_id, name="in-image.png")
    storage.put(result, b"result", "image/png")
    storage.put(prepared, b"prepared", "image/png")
    now = to_db(utc_now())
    output = json.dumps({"images": [{"key": result, "width": 4, "height": 3}]})
    state = json.dumps({"prepared": {"image": prepared}})
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE tasks SET status = 'succeeded', output = %s, finished_at = %s, "
            "revision = revision + 1 WHERE public_id = %s",
            (output, now, task_id),
        )
        uow.execute(
            "INSERT INTO task_steps (task_id, step_index, step, status, state, started_at, "
            "finished_at) SELECT id, 0, 'prepare', 'succeeded', %s, %s, %s FROM tasks "
            "WHERE public_id = %s",
            (state, now, now, task_id),
        )
        uow.commit()
    return [result, prepared]


def rows_naming(person: Person) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text value in the database holding the person's numeric
    id, public id or address, and of every `*user_id` / `created_by` column holding the id.
    On a connection of its own: the scan's statements are the test's, not the product's SQL
    (tests/sql_catalogue_plugin.py records only what goes through `retouch.core.db`)."""
    settings = get_settings()
    connection = pymysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.db_user,
        password=settings.db_password.get_secret_value(),
        database=settings.db_name,
    )
    found: list[tuple[str, str, str]] = []
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = DATABASE()"
            )
            columns = list(cursor.fetchall())
            for table, name, kind in columns:
                if str(kind).lower() in TEXT_TYPES:
                    condition, needles = f"INSTR(`{name}`, %s) > 0", person.needles
                elif _holds_user_ids(table, name):
                    condition, needles = f"`{name}` = %s", (str(person.id),)
                else:
                    continue
                for needle in needles:
                    cursor.execute(f"SELECT `{name}` FROM `{table}` WHERE {condition}", (needle,))  # noqa: S608 - names from information_schema
                    found += [(table, name, str(row[0])) for row in cursor.fetchall()]
    finally:
        connection.close()
    return found


def redis_keys_naming(person: Person) -> list[str]:
    """The Redis keys holding one of the person's identifiers (limits and lockouts keep only
    digests; task channels and streams are named by task)."""
    keys = (key.decode() if isinstance(key, bytes) else str(key) for key in get_redis().scan_iter())
    return [key for key in keys if any(needle in key for needle in person.needles)]


def _holds_user_ids(table: str, column: str) -> bool:
    return (
        column.endswith("user_id") or column == "created_by" or (table, column) == ("users", "id")
    )


def objects_naming(root: Path, person: Person) -> list[str]:
    """Every stored object's key, and every object's metadata, that holds one of the
    person's identifiers (the local adapter keeps metadata as JSON under `.meta/`)."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        key = path.relative_to(root).as_posix()
        metadata = path.read_text("utf-8", errors="replace") if key.startswith(".meta/") else ""
        if any(needle in key or needle in metadata for needle in person.needles):
            found.append(key)
    return found


def object_keys(root: Path) -> set[str]:
    """The keys of the objects stored under `root` (metadata files left out)."""
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not path.relative_to(root).as_posix().startswith(".")
    }


def kept_ledger(user_id: int) -> list[dict[str, Any]]:
    """The ledger rows of account `user_id`, oldest first: what accounting reads."""
    with get_database().read_only() as uow:
        return uow.fetch_all(
            "SELECT kind, amount, balance_after, ref, reason, created_at FROM quota_ledger "
            "WHERE user_id = %s ORDER BY id",
            (user_id,),
        )
