"""The rules the task repositories keep (`FakeTaskRepository` as the SQL adapter does), and
the caller + task read's record (`retouch.tasks.caller_read`)."""

from __future__ import annotations

from datetime import datetime, timezone

from retouch.tasks.caller_read import OwnedTaskRead, owned_task_read
from tests.fakes.tasks import FakeTaskRepository

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
TASK_ID = "tsk_" + "b" * 22


def added(tasks: FakeTaskRepository, *, user_id: int = 1) -> int:
    return tasks.add(
        public_id=TASK_ID,
        user_id=user_id,
        feature_key="cutout",
        form_version=1,
        pipeline_version=1,
        inputs={"image": "upl_x"},
        cost=1,
        now=NOW,
        deadline_at=None,
    )


def test_only_a_queued_task_starts() -> None:
    tasks = FakeTaskRepository()
    added(tasks)

    assert tasks.start(TASK_ID, now=NOW) is True
    assert tasks.start(TASK_ID, now=NOW) is False


def test_another_users_or_a_hidden_task_is_not_owned() -> None:
    tasks = FakeTaskRepository()
    task_id = added(tasks, user_id=1)

    assert tasks.get_owned(TASK_ID, user_id=2) is None
    assert tasks.get_owned(TASK_ID, user_id=1) is not None
    assert tasks.hide(task_id) is True
    assert tasks.hide(task_id) is False
    assert tasks.get_owned(TASK_ID, user_id=1) is None


def test_the_caller_read_gives_the_task_or_none() -> None:
    read = OwnedTaskRead(TASK_ID)
    row = {
        "id": 1,
        "public_id": "usr_x",
        "tk_id": 9,
        "tk_public_id": TASK_ID,
        "tk_user_id": 1,
        "tk_feature_key": "cutout",
        "tk_form_version": 1,
        "tk_pipeline_version": 1,
        "tk_status": "queued",
        "tk_inputs": "{}",
        "tk_output": None,
        "tk_error_code": None,
        "tk_cost": 2,
        "tk_hidden": 0,
        "tk_revision": 0,
        "tk_created_at": datetime(2026, 12, 5, 12, 0),
        "tk_started_at": None,
        "tk_finished_at": None,
    }

    task = read.parse(row)

    assert task is not None and (task.id, task.public_id, task.cost) == (9, TASK_ID, 2)
    assert read.parse({**row, "tk_id": None}) is None
    assert read.params() == (TASK_ID,) and "tk.user_id = u.id" in read.join()


def test_a_malformed_task_id_reads_nothing() -> None:
    assert owned_task_read("tsk_short") is None
    assert owned_task_read(TASK_ID) == OwnedTaskRead(TASK_ID)
