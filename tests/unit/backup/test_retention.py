"""Retention over a simulated calendar: a backup every day for 400 days, the job's retention
after each; what remains is exactly the 7 daily / 4 weekly / 12 monthly set, and every
deleted backup's objects are gone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from retouch.backup import layout
from retouch.backup.layout import Manifest, Part, TableEntry
from retouch.backup.retention import Policy, apply_retention, kept
from tests.fakes.storage import MemoryStorage

POLICY = Policy(daily=7, weekly=4, monthly=12)
LAST_DAY = date(2026, 12, 5)  # a Saturday


def _write_backup(storage: MemoryStorage, moment: datetime) -> str:
    """What a completed backup leaves: one part, the manifest, the index entry, `latest`."""
    backup_id = layout.new_backup_id(moment)
    key = layout.part_key(backup_id, "tasks", 0)
    storage.put(key, b"part", "application/gzip")
    manifest = Manifest(
        id=backup_id,
        database="retouch",
        started_at=moment.isoformat(),
        schema_version=[],
        tables=[TableEntry("tasks", "", ["id"], ["id"], 1, "", [Part(key, 1, 4, "")])],
    )
    storage.put(layout.manifest_key(backup_id), manifest.to_json(), "application/json")
    layout.write_index(storage, [*layout.read_index(storage), backup_id])
    storage.put(layout.LATEST_KEY, backup_id.encode(), "text/plain")
    return backup_id


def _expected_days() -> set[date]:
    daily = {LAST_DAY - timedelta(days=n) for n in range(7)}  # Nov 29 .. Dec 5
    weekly = {date(2026, 12, 5), date(2026, 11, 29), date(2026, 11, 22), date(2026, 11, 15)}
    monthly = {date(2026, 12, 5)} | {
        date(2026, month, 1) - timedelta(days=1)
        for month in range(2, 13)  # Jan 31 .. Nov 30
    }
    return daily | weekly | monthly


def test_a_year_of_daily_backups_keeps_exactly_the_policy_set() -> None:
    storage = MemoryStorage()
    first = LAST_DAY - timedelta(days=399)
    for offset in range(400):
        day = first + timedelta(days=offset)
        _write_backup(storage, datetime(day.year, day.month, day.day, 3, tzinfo=timezone.utc))
        apply_retention(storage, POLICY)

    remaining = layout.read_index(storage)

    assert {layout.backup_time(backup_id).date() for backup_id in remaining} == _expected_days()
    assert len(remaining) == len(_expected_days()) == 19  # 7 + Nov 15, 22 + Jan..Oct
    kept_objects = {key for backup_id in remaining for key in storage.keys(f"backups/{backup_id}/")}
    assert set(storage.keys("backups/")) - {layout.INDEX_KEY, layout.LATEST_KEY} == kept_objects
    assert len(kept_objects) == 2 * len(remaining)  # a part and a manifest each


def test_weeks_without_backups_do_not_use_up_the_weekly_slots() -> None:
    ids = [
        layout.new_backup_id(datetime(2026, 11, day, 3, tzinfo=timezone.utc))
        for day in (2, 9, 30)  # Mondays; the three weeks between had no backup
    ]

    assert kept(ids, Policy(daily=1, weekly=3, monthly=0)) == set(ids)


def test_the_newest_backup_is_always_kept_and_nothing_else_with_a_zero_policy() -> None:
    ids = [layout.new_backup_id(datetime(2026, 12, day, 3, tzinfo=timezone.utc)) for day in (1, 2)]

    assert kept(ids, Policy(daily=1, weekly=0, monthly=0)) == {max(ids)}
    assert kept([], POLICY) == set()
