"""The retention job against the real MariaDB: each table's rule, audit rows archived (and
readable) before they are deleted, a storage failure that loses nothing, the run's lock."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql
import pytest

from retouch.core.db import get_database
from retouch.core.settings import get_settings
from retouch.core.time import to_db, utc_now
from retouch.retention import run_retention
from retouch.retention.archive import PREFIX, read_archive
from retouch.retention.service import LOCK, RetentionFailed
from retouch.storage.errors import StorageUnavailable
from retouch.storage.local import LocalStorage
from retouch.storage.signing import Signer
from tests.conftest import FakeLambdaContext, Stack, load_event, load_function
from tests.integration.identity_support import new_account

pytestmark = pytest.mark.integration

NOW = utc_now()
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=1)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(
        root=tmp_path / "objects", base_url="http://127.0.0.1:9", signer=Signer(b"k" * 32)
    )


class UnavailableStorage(LocalStorage):
    """Object storage that is down: every write fails as the cloud adapters' do."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        raise StorageUnavailable("object storage unreachable")


@pytest.fixture
def user_id(stack: Stack) -> int:
    user, _ = new_account()
    row = _one("SELECT id FROM users WHERE public_id = %s", (user["id"],))
    return int(row["id"])


def _one(sql: str, params: tuple[Any, ...] = ()) -> dict[str, Any]:
    with get_database("job").read_only() as uow:
        row = uow.fetch_one(sql, params)
    assert row is not None
    return row


def _insert(sql: str, params: tuple[Any, ...]) -> int:
    with get_database("job").unit_of_work() as uow:
        uow.execute(sql, params)
        new_id = uow.last_insert_id()
        uow.commit()
    return new_id


def _exists(table: str, row_id: int) -> bool:
    with get_database("job").read_only() as uow:
        return uow.fetch_one(f"SELECT id FROM {table} WHERE id = %s", (row_id,)) is not None  # noqa: S608


def _outbox(published_at: datetime | None, created_at: datetime = OLD) -> int:
    return _insert(
        "INSERT INTO outbox (queue_name, body, created_at, published_at) VALUES (%s, %s, %s, %s)",
        ("steps-prepare", "{}", to_db(created_at), published_at and to_db(published_at)),
    )


def _token(user_id: int, expires_at: datetime) -> int:
    return _insert(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) "
        "VALUES (%s, %s, %s, %s, %s)",
        (secrets.token_hex(32), "fam_test", user_id, to_db(OLD), to_db(expires_at)),
    )


def _audit(created_at: datetime, action: str = "retention.test") -> int:
    return _insert(
        "INSERT INTO audit_logs (actor_user_id, action, target_type, target_id, before_state, "
        "after_state, request_id, created_at) VALUES (NULL, %s, %s, %s, %s, %s, %s, %s)",
        (
            action,
            "feature",
            secrets.token_hex(4),
            json.dumps({"cost": 1}),
            json.dumps({"cost": 2, "note": "改"}),
            "req-retention",
            to_db(created_at),
        ),
    )


def _event(received_at: datetime) -> str:
    event_id = secrets.token_hex(8)
    _insert(
        "INSERT INTO provider_events (provider_key, event_id, received_at) VALUES (%s, %s, %s)",
        ("retention-test", event_id, to_db(received_at)),
    )
    return event_id


def _key(user_id: int, expires_at: datetime) -> int:
    return _insert(
        "INSERT INTO idempotency_keys (user_id, operation, idempotency_key, request_hash, "
        "claim, lease_until, created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            user_id,
            "tasks.create",
            secrets.token_hex(8),
            "0" * 64,
            "c" * 32,
            to_db(OLD),
            to_db(OLD),
            to_db(expires_at),
        ),
    )


def _event_kept(event_id: str) -> bool:
    with get_database("job").read_only() as uow:
        found = uow.fetch_one(
            "SELECT 1 AS found FROM provider_events WHERE provider_key = %s AND event_id = %s",
            ("retention-test", event_id),
        )
    return found is not None


def _run(storage: LocalStorage) -> dict[str, Any]:
    return run_retention(
        database=get_database("job"), storage=storage, settings=get_settings(), clock=lambda: NOW
    )


def test_each_table_keeps_what_is_within_its_retention_and_loses_the_rest(
    user_id: int, storage: LocalStorage
) -> None:
    # GIVEN, in every table, rows past their retention and rows within it
    outbox_old, outbox_recent = _outbox(OLD), _outbox(RECENT)
    outbox_unpublished = _outbox(None)
    token_old, token_recent = _token(user_id, OLD), _token(user_id, RECENT)
    token_valid = _token(user_id, NOW + timedelta(days=30))
    audit_old, audit_recent = _audit(OLD), _audit(RECENT)
    event_old, event_recent = _event(OLD), _event(RECENT)
    key_old, key_valid = _key(user_id, OLD), _key(user_id, NOW + timedelta(hours=1))

    # WHEN the job runs
    result = _run(storage)

    # THEN the expired rows are gone, every other row is kept
    assert not _exists("outbox", outbox_old)
    assert _exists("outbox", outbox_recent)
    assert _exists("outbox", outbox_unpublished)  # never published: the relay's, not ours
    assert not _exists("refresh_tokens", token_old)
    assert _exists("refresh_tokens", token_recent)  # within the 7 days after expiry
    assert _exists("refresh_tokens", token_valid)
    assert not _exists("audit_logs", audit_old)
    assert _exists("audit_logs", audit_recent)
    assert not _event_kept(event_old)
    assert _event_kept(event_recent)
    assert not _exists("idempotency_keys", key_old)
    assert _exists("idempotency_keys", key_valid)
    for table in ("outbox", "refresh_tokens", "audit_logs", "provider_events", "idempotency_keys"):
        assert result[table]["deleted"] >= 1
    # AND a second run finds nothing more of ours: the rules are idempotent
    again = _run(storage)
    assert again["audit_logs"]["deleted"] == 0
    assert _exists("outbox", outbox_recent)


def _mailed(table: str, user_id: int, expires_at: datetime, *, used: bool = False) -> int:
    """A mailed token of `table` (email_verifications or password_resets)."""
    return _insert(
        f"INSERT INTO {table} (token_hash, user_id, created_at, expires_at, used_at) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s)",
        (
            secrets.token_hex(32),
            user_id,
            to_db(expires_at - timedelta(hours=1)),
            to_db(expires_at),
            to_db(expires_at - timedelta(minutes=30)) if used else None,
        ),
    )


def _verified_at(user_id: int) -> object:
    return _one("SELECT email_verified_at FROM users WHERE id = %s", (user_id,))[
        "email_verified_at"
    ]


@pytest.mark.parametrize("table", ["email_verifications", "password_resets"])
def test_mailed_tokens_go_a_day_after_their_expiry_used_or_not_and_the_account_stays(
    user_id: int, storage: LocalStorage, table: str
) -> None:
    # GIVEN tokens expired days ago (one of them used), one expired an hour ago, one still
    # valid and one used but not yet expired, of a live account
    verified = _verified_at(user_id)
    expired = _mailed(table, user_id, NOW - timedelta(days=3))
    expired_used = _mailed(table, user_id, NOW - timedelta(days=2), used=True)
    just_expired = _mailed(table, user_id, NOW - timedelta(hours=1))
    valid = _mailed(table, user_id, NOW + timedelta(hours=20))
    used_valid = _mailed(table, user_id, NOW + timedelta(hours=20), used=True)

    # WHEN the job runs
    result = _run(storage)

    # THEN the tokens past RETOUCH_RETENTION_<table>_DAYS (1) after expiry are gone
    assert not _exists(table, expired)
    assert not _exists(table, expired_used)
    assert result[table]["deleted"] >= 2
    # AND the others are kept: a valid token still works, a spent one leaves with its expiry
    assert _exists(table, just_expired)
    assert _exists(table, valid)
    assert _exists(table, used_valid)
    # AND the account is untouched (retention never deletes accounts, verified or not)
    assert _exists("users", user_id)
    assert _verified_at(user_id) == verified


def test_a_mailed_token_retention_of_zero_days_takes_every_expired_token(
    user_id: int, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN tokens expired an hour ago, and no days kept after expiry
    monkeypatch.setenv("RETOUCH_RETENTION_EMAIL_VERIFICATIONS_DAYS", "0")
    monkeypatch.setenv("RETOUCH_RETENTION_PASSWORD_RESETS_DAYS", "0")
    get_settings.cache_clear()
    verification = _mailed("email_verifications", user_id, NOW - timedelta(hours=1))
    reset = _mailed("password_resets", user_id, NOW - timedelta(hours=1))
    live = _mailed("email_verifications", user_id, NOW + timedelta(minutes=5))

    # WHEN the job runs
    _run(storage)

    # THEN both expired tokens are gone, the live one stays
    assert not _exists("email_verifications", verification)
    assert not _exists("password_resets", reset)
    assert _exists("email_verifications", live)


def test_audit_rows_are_archived_before_they_are_deleted(
    stack: Stack, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN five old audit rows, and batches of two
    monkeypatch.setenv("RETOUCH_RETENTION_BATCH_ROWS", "2")
    ids = [
        _audit(OLD + timedelta(seconds=index), f"retention.archive.{index}") for index in range(5)
    ]

    # WHEN the job runs
    result = _run(storage)

    # THEN the rows are gone from the table and every one of them is in the archive, whole
    assert not any(_exists("audit_logs", row_id) for row_id in ids)
    assert result["audit_logs"]["batches"] >= 3
    objects = sorted((storage.root / PREFIX).rglob("*.jsonl.gz"))
    records = [record for path in objects for record in read_archive(path.read_bytes())]
    archived = {record["id"]: record for record in records}
    assert set(ids) <= set(archived)
    first = archived[ids[0]]
    assert first["action"] == "retention.archive.0"
    assert first["before_state"] == {"cost": 1}
    assert first["after_state"] == {"cost": 2, "note": "改"}
    assert first["request_id"] == "req-retention"
    assert first["created_at"].startswith(OLD.strftime("%Y-%m-%dT%H:%M"))
    assert str(objects[0].relative_to(storage.root)).startswith(f"{PREFIX}{OLD:%Y/%m/%d}/")


def test_storage_down_leaves_the_audit_rows_in_place_and_purges_the_rest(
    user_id: int, tmp_path: Path
) -> None:
    # GIVEN old audit and outbox rows, and object storage that is down
    audit_old, outbox_old = _audit(OLD), _outbox(OLD)
    down = UnavailableStorage(root=tmp_path / "down", base_url="http://x", signer=Signer(b"k" * 32))

    # WHEN the job runs, THEN it fails
    with pytest.raises(RetentionFailed, match="audit_logs"):
        _run(down)

    # AND no audit row was lost, while the other tables were still purged
    assert _exists("audit_logs", audit_old)
    assert not _exists("outbox", outbox_old)
    assert not (tmp_path / "down").exists() or not any((tmp_path / "down").rglob("*.gz"))


@pytest.fixture
def lock_elsewhere(stack: Stack) -> Iterator[pymysql.connections.Connection[Any]]:
    settings = get_settings()
    connection = pymysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.db_user,
        password=settings.db_password.get_secret_value(),
        database=settings.db_name,
    )
    yield connection
    connection.close()


def test_a_run_while_another_holds_the_lock_deletes_nothing(
    lock_elsewhere: pymysql.connections.Connection[Any], storage: LocalStorage
) -> None:
    # GIVEN another run holding the lock, and an expired outbox row
    with lock_elsewhere.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, 0)", (LOCK,))
        assert cursor.fetchone() == (1,)
    outbox_old = _outbox(OLD)

    # WHEN a second run starts, THEN it steps aside and the row is still there
    assert _run(storage) == {"skipped": "locked"}
    assert _exists("outbox", outbox_old)

    # WHEN the first one ends, THEN the next run does the work
    with lock_elsewhere.cursor() as cursor:
        cursor.execute("SELECT RELEASE_LOCK(%s)", (LOCK,))
    assert _run(storage)["outbox"]["deleted"] >= 1
    assert not _exists("outbox", outbox_old)


def test_the_scheduled_function_runs_retention_from_either_cloud_event(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the local storage adapter under a folder of this test, and an old audit row
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    audit_old = _audit(OLD)
    function = load_function("functions/jobs/retention/app.py")

    # WHEN EventBridge and then an SCF timer invoke it
    by_aws = function.handler(load_event("retention_aws_schedule.json"), FakeLambdaContext())
    by_scf = function.main_handler(load_event("retention_scf_timer.json"), {})

    # THEN the first run archived and deleted the row, the second found nothing more to do
    assert by_aws["audit_logs"]["deleted"] >= 1
    assert by_scf["audit_logs"]["deleted"] == 0
    assert not _exists("audit_logs", audit_old)
    assert any((tmp_path / "objects" / PREFIX).rglob("*.jsonl.gz"))
