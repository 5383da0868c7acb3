"""The caller's plan limits, checked when a task is created: how many tasks may be queued or
running at once, and how large an input image may be.

The plan is the one the caller held when the request was read (`Principal.membership`), so a
plan ending while the task runs changes nothing about it. The count is exact under
concurrency: the quota account row is locked first, before anything else of the transaction
is read, so two requests of one user count one after the other, each seeing the other's
task once it committed.
"""

from __future__ import annotations

from collections.abc import Mapping

from retouch.core.identity import Principal
from retouch.core.units import Transaction
from retouch.quota.repository import AccountRepository, PlanRepository
from retouch.quota.schemas import PlanRead
from retouch.tasks.errors import PlanLimitReached
from retouch.tasks.repository import TaskRepository
from retouch.uploads.repository import UploadRepository


def plan_in_force(uow: Transaction, principal: Principal) -> PlanRead | None:
    """Lock the caller's account (serialising their task creations) and read their plan;
    None when the plan is gone from the catalogue (no limits then, as before limits)."""
    # A locking read first: InnoDB takes the transaction's snapshot at its first plain read,
    # so the count below sees every task committed before this lock was granted.
    uow.repository(AccountRepository).get(principal.user.id, for_update=True)
    return uow.repository(PlanRepository).get(principal.membership.plan_code)


def check_plan(
    uow: Transaction, *, plan: PlanRead | None, user_id: int, uploads: Mapping[str, str]
) -> None:
    """The plan's limits: the inputs' size, then the number of unfinished tasks
    (PlanLimitReached, 409). Which plans may use a feature is the feature's own
    `allowed_plans` (the catalog), checked before."""
    check_resolution(uow, plan=plan, user_id=user_id, uploads=uploads)
    check_concurrency(uow, plan=plan, user_id=user_id)


def check_concurrency(uow: Transaction, *, plan: PlanRead | None, user_id: int) -> None:
    """PlanLimitReached (409) when the user already has the plan's number of unfinished
    tasks."""
    limit = None if plan is None else plan.max_concurrent_tasks
    if limit is not None and uow.repository(TaskRepository).count_unfinished(user_id) >= limit:
        raise PlanLimitReached("Your plan allows {limit} unfinished tasks at once", limit=limit)


def check_resolution(
    uow: Transaction, *, plan: PlanRead | None, user_id: int, uploads: Mapping[str, str]
) -> None:
    """PlanLimitReached (409) when an upload named by the inputs has more pixels than the
    plan allows (`uploads`: field → upload public id, all ready and the user's)."""
    limit = None if plan is None else plan.max_input_pixels
    if limit is None or not uploads:
        return
    found = uow.repository(UploadRepository).ready_uploads(
        user_id=user_id, public_ids=sorted(set(uploads.values()))
    )
    for upload in found.values():
        if (upload.width or 0) * (upload.height or 0) > limit:
            raise PlanLimitReached(
                "Your plan allows input images of at most {limit} pixels", limit=limit
            )
