"""The verified restore: passes on a good backup, and reports (log line at error, metric,
outcome with code and table) a missing, tampered or misconfigured one; the scratch database
never outlives it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retouch.backup import layout
from retouch.backup.dump import run_backup
from retouch.backup.verify import verify_latest
from retouch.core.metrics import Recorder, end_invocation, reset_recorder
from retouch.core.settings import Settings
from retouch.core.time import utc_now
from retouch.storage import LocalStorage
from tests.conftest import LogLines, Stack
from tests.fakes.metrics import MemorySink
from tests.integration.backup_support import connect, snapshot_rows

pytestmark = pytest.mark.integration

SCRATCH = "retouch_verify"


@pytest.fixture
def sink() -> Iterator[MemorySink]:
    sink = MemorySink()
    reset_recorder(Recorder(sink))
    yield sink
    reset_recorder()


def _metrics(sink: MemorySink) -> dict[str, float]:
    end_invocation()
    return {name: value for name, value, _, _ in sink.delivered()}


def _scratch_exists(stack: Stack) -> bool:
    connection = connect(stack, "retouch")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW DATABASES LIKE %s", (SCRATCH,))
            return cursor.fetchone() is not None
    finally:
        connection.close()


def test_the_latest_backup_verifies_and_the_scratch_is_dropped(
    stack: Stack, settings: Settings, storage: LocalStorage, sink: MemorySink
) -> None:
    manifest = run_backup(settings=settings, storage=storage, clock=utc_now)

    outcome = verify_latest(settings=settings, storage=storage, clock=utc_now)

    assert outcome["outcome"] == "passed"
    assert (outcome["backup_id"], outcome["rows"]) == (manifest.id, manifest.rows)
    assert not _scratch_exists(stack)
    metrics = _metrics(sink)
    assert metrics["BackupVerified"] == 1 and "BackupVerifyFailed" not in metrics
    assert 0 <= metrics["BackupAgeHours"] < 1


def test_a_tampered_latest_backup_is_reported_naming_the_table(
    stack: Stack,
    settings: Settings,
    storage: LocalStorage,
    sink: MemorySink,
    log_lines: LogLines,
) -> None:
    manifest = run_backup(settings=settings, storage=storage, clock=utc_now)
    (features,) = [t for t in manifest.tables if t.name == "feature_definitions"]
    data = storage.get(features.parts[0].key)
    storage.put(features.parts[0].key, data[:-8], "application/gzip")

    outcome = verify_latest(settings=settings, storage=storage, clock=utc_now)

    assert (outcome["outcome"], outcome["code"], outcome["table"]) == (
        "failed",
        "BACKUP_CORRUPT",
        "feature_definitions",
    )
    (line,) = log_lines.with_message("backup verify failed")
    assert (line["level"], line["code"], line["table"]) == (
        "ERROR",
        "BACKUP_CORRUPT",
        "feature_definitions",
    )
    assert _metrics(sink)["BackupVerifyFailed"] == 1
    assert not _scratch_exists(stack)


def test_no_backup_at_all_is_reported(
    stack: Stack, settings: Settings, storage: LocalStorage, sink: MemorySink
) -> None:
    outcome = verify_latest(settings=settings, storage=storage, clock=utc_now)

    assert (outcome["outcome"], outcome["code"]) == ("failed", "BACKUP_NOT_FOUND")
    metrics = _metrics(sink)
    assert metrics["BackupVerifyFailed"] == 1 and "BackupAgeHours" not in metrics


def test_a_scratch_database_named_as_the_service_database_is_refused_untouched(
    stack: Stack, settings: Settings, storage: LocalStorage, sink: MemorySink
) -> None:
    run_backup(settings=settings, storage=storage, clock=utc_now)
    before = snapshot_rows(stack, "retouch")
    misconfigured = settings.model_copy(update={"backup_verify_database": settings.db_name})

    outcome = verify_latest(settings=misconfigured, storage=storage, clock=utc_now)

    assert (outcome["outcome"], outcome["code"]) == ("failed", "INVALID_DATABASE_NAME")
    assert snapshot_rows(stack, "retouch") == before
    assert layout.read_index(storage)
