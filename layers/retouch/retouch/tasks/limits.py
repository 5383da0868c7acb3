"""The caller's plan limits, checked when a task is created: how large an input image may be,
and how many tasks may be queued or running at once.

The plan is the one the caller held when the request was read (`Principal.membership`), so a
plan ending while the task runs changes nothing about it. The size is judged on the creation's
read (`retouch.tasks.creation`). The count is exact under concurrency: it is read only once
the creating transaction holds the lock on the caller's quota account (its first statement,
`retouch.quota.reservations.reserve_new_in`), so two requests of one user count one after the
other, each seeing the other's task once it committed.
"""

from __future__ import annotations

from collections.abc import Iterable

from retouch.core.units import Transaction
from retouch.tasks.errors import PlanLimitReached
from retouch.tasks.repository import TaskRepository


def check_concurrency(uow: Transaction, *, limit: int | None, user_id: int) -> None:
    """PlanLimitReached (409) when the user already has `limit` unfinished tasks (None: no
    limit). Run under the account's lock, before any plain read of the transaction: InnoDB
    takes the transaction's snapshot at its first plain read, so this count sees every task
    committed before the lock was granted."""
    if limit is not None and uow.repository(TaskRepository).count_unfinished(user_id) >= limit:
        raise PlanLimitReached("Your plan allows {limit} unfinished tasks at once", limit=limit)


def check_resolution(*, limit: int | None, pixels: Iterable[int]) -> None:
    """PlanLimitReached (409) when an input image (its pixels, from the uploads the inputs
    name) is larger than the plan allows (None: no limit)."""
    if limit is not None and any(count > limit for count in pixels):
        raise PlanLimitReached(
            "Your plan allows input images of at most {limit} pixels", limit=limit
        )
