"""The parts of a run that crashed are swept after the grace, never those of a run still in
progress, never those of a backup in the index, and never another run's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from retouch.backup import layout, orphans
from tests.fakes.storage import MemoryStorage

STARTED = datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc)
GRACE = timedelta(hours=24)


def _crashed_run(storage: MemoryStorage, moment: datetime, parts: dict[str, int]) -> str:
    """What a run killed mid-table leaves: its record, and the first parts of each table."""
    backup_id = layout.new_backup_id(moment)
    orphans.mark_started(storage, backup_id, sorted(parts))
    for table, count in parts.items():
        for number in range(count):
            storage.put(layout.part_key(backup_id, table, number), b"rows", "application/gzip")
    return backup_id


def test_a_crashed_runs_parts_are_kept_within_the_grace_and_deleted_after_it() -> None:
    storage = MemoryStorage()
    crashed = _crashed_run(storage, STARTED, {"tasks": 3, "users": 1, "uploads": 0})
    written = set(storage.objects) - {orphans.PENDING_KEY}
    assert len(written) == 4

    # WHEN the retention pass runs an hour later (the run might still be going)
    assert orphans.sweep(storage, now=STARTED + timedelta(hours=1), grace=GRACE) == []
    assert written <= set(storage.objects)

    # THEN after the grace its parts are deleted and its record dropped
    assert orphans.sweep(storage, now=STARTED + timedelta(hours=25), grace=GRACE) == [crashed]
    assert not any(crashed in key for key in storage.objects)
    assert sorted(storage.deleted) == sorted(written)
    assert orphans.sweep(storage, now=STARTED + timedelta(hours=26), grace=GRACE) == []


def test_a_run_that_reached_the_index_keeps_its_parts_and_loses_its_record() -> None:
    # GIVEN a run that wrote its index entry, then died before dropping its record
    storage = MemoryStorage()
    complete = _crashed_run(storage, STARTED, {"tasks": 2})
    layout.write_index(storage, [complete])

    swept = orphans.sweep(storage, now=STARTED + timedelta(days=3), grace=GRACE)

    assert swept == []
    assert storage.head(layout.part_key(complete, "tasks", 1)) is not None
    assert orphans.pending_runs(storage) == {}


def test_only_the_old_crashed_run_is_swept_beside_a_recent_one() -> None:
    storage = MemoryStorage()
    old = _crashed_run(storage, STARTED, {"tasks": 2})
    recent = _crashed_run(storage, STARTED + timedelta(hours=23), {"tasks": 1})

    swept = orphans.sweep(storage, now=STARTED + timedelta(hours=25), grace=GRACE)

    assert swept == [old]
    assert storage.head(layout.part_key(recent, "tasks", 0)) is not None
    assert storage.head(layout.part_key(old, "tasks", 0)) is None
    assert list(orphans.pending_runs(storage)) == [recent]
