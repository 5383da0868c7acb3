"""Helpers of the backup tests: a storage under a temporary folder, one that fails after a
number of writes, and whole-database reads that compare without the backup's own code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pymysql

from retouch.storage import LocalStorage, Storage
from retouch.storage.signing import Signer
from tests.conftest import Stack


def local_storage(root: Path) -> LocalStorage:
    return LocalStorage(root=root, base_url="http://127.0.0.1:1/", signer=Signer(b"k" * 32))


class StorageDown(ConnectionError):
    """The object store stopped answering."""


class FailingStorage:
    """The storage port over `inner`, failing every write and delete after `puts_allowed`
    writes succeeded (the object store going away mid-backup)."""

    def __init__(self, inner: Storage, *, puts_allowed: int) -> None:
        self.inner, self.puts_allowed = inner, puts_allowed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.puts_allowed <= 0:
            raise StorageDown("object storage unavailable")
        self.puts_allowed -= 1
        self.inner.put(key, data, content_type)

    def delete(self, key: str) -> None:
        if self.puts_allowed <= 0:
            raise StorageDown("object storage unavailable")
        self.inner.delete(key)


def connect(stack: Stack, database: str) -> Any:
    return pymysql.connect(
        unix_socket=str(stack.mariadb.socket_path), user="root", database=database
    )


def snapshot_rows(stack: Stack, database: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in a stable order (all columns), read with plain SQL."""
    connection = connect(stack, database)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
            tables = sorted(row[0] for row in cursor.fetchall())
            found = {}
            for table in tables:
                cursor.execute(f"SELECT * FROM `{table}`")  # noqa: S608 - names from SHOW TABLES
                found[table] = sorted(cursor.fetchall(), key=repr)
            return found
    finally:
        connection.close()


def drop_database(stack: Stack, database: str) -> None:
    connection = pymysql.connect(unix_socket=str(stack.mariadb.socket_path), user="root")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        connection.close()


def files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}
