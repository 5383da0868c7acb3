"""Plan use cases."""

from __future__ import annotations

from collections.abc import Iterable

from retouch.core.db import Database
from retouch.quota.repository import MySQLPlanRepository
from retouch.quota.schemas import PlanWrite


def load_plans(*, database: Database, plans: Iterable[PlanWrite]) -> int:
    """Insert or update the given plans in one transaction; return how many were written."""
    count = 0
    with database.unit_of_work() as uow:
        repository = MySQLPlanRepository(uow)
        for plan in plans:
            repository.upsert(plan)
            count += 1
        uow.commit()
    return count
