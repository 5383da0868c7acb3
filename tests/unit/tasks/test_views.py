"""Reading tasks (`retouch.tasks.views`) over the fakes: the owner's task with signed output
URLs and a registry error message; another user's or a hidden task is absent; pages newest
first with a cursor bound to the caller and the filters."""

from __future__ import annotations

import pytest

from retouch.core.identity import Principal
from retouch.core.pagination import InvalidCursor
from retouch.storage import output_key
from retouch.tasks.errors import TaskNotFound
from retouch.tasks.lifecycle import Outcome, finish_task
from retouch.tasks.records import StoredImage
from retouch.tasks.schemas import TaskPage, TaskStatus
from retouch.tasks.views import TaskView, get_task, list_tasks
from tests.fakes.redis import as_client
from tests.unit.task_support import ALICE, BOB, SETTINGS, Shop


def read(shop: Shop, task_id: str, caller: Principal = ALICE, language: str = "en") -> TaskView:
    return get_task(
        database=shop.database,
        storage=shop.storage,
        settings=SETTINGS,
        principal=caller,
        task_id=task_id,
        language=language,
        clock=shop.clock,
    )


def page(
    shop: Shop,
    caller: Principal = ALICE,
    *,
    cursor: str | None = None,
    limit: int = 2,
    status: TaskStatus | None = None,
) -> TaskPage:
    return list_tasks(
        database=shop.database,
        storage=shop.storage,
        settings=SETTINGS,
        principal=caller,
        status=status,
        feature=None,
        cursor=cursor,
        limit=limit,
        language="en",
        clock=shop.clock,
    )


def end(shop: Shop, task_id: str, outcome: Outcome) -> None:
    finish_task(
        database=shop.database,
        redis=as_client(shop.redis),
        task_id=task_id,
        outcome=outcome,
        clock=shop.clock,
    )


def created(shop: Shop, count: int, caller: Principal = ALICE) -> list[str]:
    """`count` tasks of `caller`, a second apart, oldest first."""
    ids = []
    for _ in range(count):
        ids.append(shop.create(caller).id)
        shop.clock.advance(1)
    return ids


def test_the_owner_reads_a_succeeded_task_with_signed_output_urls() -> None:
    shop = Shop.open(cost=0)
    task_id = shop.create().id
    key = output_key(task_id=task_id, name="0.png")
    end(shop, task_id, Outcome("succeeded", images=(StoredImage(key, 16, 12),)))

    view = read(shop, task_id)

    assert view.task.status == "succeeded"
    assert view.task.output is not None
    (image,) = view.task.output.images
    assert image.url.startswith(f"memory://{key}?expires_s=")
    assert (image.width, image.height) == (16, 12)
    assert view.etag.startswith(f'W/"{task_id[4:]}.')


@pytest.mark.parametrize(
    ("language", "message"),
    [("en", "The task took too long"), ("zh", "任务处理超时")],
    ids=["english", "chinese"],
)
def test_a_failed_task_shows_the_registry_code_and_message_never_the_vendors_words(
    language: str, message: str
) -> None:
    shop = Shop.open(cost=0)
    task_id = shop.create().id
    end(shop, task_id, Outcome("failed", error_code="TASK_TIMEOUT", error_detail="vendor: boom"))

    error = read(shop, task_id, language=language).task.error

    assert error is not None and error.code == "TASK_TIMEOUT"
    assert message in error.message and "boom" not in error.message


def test_an_unknown_error_code_reads_as_internal() -> None:
    shop = Shop.open(cost=0)
    task_id = shop.create().id
    end(shop, task_id, Outcome("failed", error_code="NO_SUCH_CODE"))

    error = read(shop, task_id).task.error

    assert error is not None and error.code == "INTERNAL"


def test_the_etag_changes_when_the_task_does() -> None:
    shop = Shop.open(cost=0)
    task_id = shop.create().id
    before = read(shop, task_id).etag

    end(shop, task_id, Outcome("canceled"))

    assert read(shop, task_id).etag != before


@pytest.mark.parametrize(
    "target",
    ["another-users", "hidden", "unknown", "malformed"],
)
def test_a_task_the_caller_may_not_see_is_not_found(target: str) -> None:
    shop = Shop.open(cost=0)
    theirs = shop.create(BOB).id
    hidden = shop.create(ALICE).id
    shop.world.tasks.hide(shop.task(hidden).id)
    task_id = {
        "another-users": theirs,
        "hidden": hidden,
        "unknown": "tsk_" + "n" * 22,
        "malformed": "../etc",
    }[target]

    with pytest.raises(TaskNotFound):
        read(shop, task_id)


def test_a_page_lists_only_the_callers_visible_tasks_newest_first() -> None:
    shop = Shop.open(cost=0)
    mine = created(shop, 3)
    created(shop, 2, BOB)
    shop.world.tasks.hide(shop.task(mine[1]).id)

    listed = page(shop, limit=10)

    assert [task.id for task in listed.items] == [mine[2], mine[0]]
    assert listed.next_cursor is None


def test_the_cursor_walks_every_task_once() -> None:
    shop = Shop.open(cost=0)
    mine = created(shop, 5)

    seen, cursor = [], None
    while True:
        listed = page(shop, cursor=cursor, limit=2)
        seen += [task.id for task in listed.items]
        if (cursor := listed.next_cursor) is None:
            break

    assert seen == list(reversed(mine))


def test_the_status_filter_keeps_only_tasks_in_that_status() -> None:
    shop = Shop.open(cost=0)
    first, second = created(shop, 2)
    end(shop, first, Outcome("canceled"))

    assert [task.id for task in page(shop, status="canceled", limit=10).items] == [first]
    assert [task.id for task in page(shop, status="queued", limit=10).items] == [second]


def test_a_cursor_is_bound_to_its_caller() -> None:
    shop = Shop.open(cost=0)
    created(shop, 3)
    created(shop, 3, BOB)
    cursor = page(shop).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidCursor):
        page(shop, BOB, cursor=cursor)


def test_a_cursor_is_bound_to_its_filters() -> None:
    shop = Shop.open(cost=0)
    created(shop, 3)
    cursor = page(shop).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidCursor):
        page(shop, cursor=cursor, status="queued")


def test_an_edited_cursor_is_refused() -> None:
    shop = Shop.open(cost=0)
    created(shop, 3)
    cursor = page(shop).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidCursor):
        page(shop, cursor=cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1])
