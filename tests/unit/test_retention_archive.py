"""The audit archive's objects: a key and bytes that depend on the rows alone, readable back."""

from __future__ import annotations

from datetime import datetime

from retouch.retention.archive import archive_body, archive_key, read_archive

ROWS = [
    {
        "id": 41,
        "action": "feature.update",
        "before_state": '{"cost": 1}',
        "after_state": '{"cost": 2}',
        "created_at": datetime(2025, 3, 9, 23, 59, 59, 500000),
    },
    {
        "id": 57,
        "action": "user.disable",
        "before_state": None,
        "after_state": None,
        "created_at": datetime(2025, 3, 10, 0, 0, 1),
    },
]


def test_the_same_rows_make_the_same_object_so_a_rerun_rewrites_it_unchanged() -> None:
    assert archive_key(ROWS) == "archive/audit_logs/2025/03/09/000000000041-000000000057.jsonl.gz"
    assert archive_body(ROWS) == archive_body([dict(row) for row in ROWS])


def test_an_archive_reads_back_as_the_rows_with_their_json_as_json() -> None:
    records = read_archive(archive_body(ROWS))

    assert [record["id"] for record in records] == [41, 57]
    assert records[0]["before_state"] == {"cost": 1}
    assert records[0]["created_at"] == "2025-03-09T23:59:59.500000+00:00"
    assert records[1]["after_state"] is None
