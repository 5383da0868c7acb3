"""SQL for plans."""

from __future__ import annotations

import json

from retouch.core.db import UnitOfWork
from retouch.quota.schemas import PlanRead, PlanWrite


class MySQLPlanRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def upsert(self, plan: PlanWrite) -> None:
        self._uow.execute(
            "INSERT INTO plans (code, name, monthly_credits, features, priority) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE name = VALUES(name), "
            "monthly_credits = VALUES(monthly_credits), features = VALUES(features), "
            "priority = VALUES(priority)",
            (plan.code, plan.name, plan.monthly_credits, json.dumps(plan.features), plan.priority),
        )

    def list(self) -> list[PlanRead]:
        rows = self._uow.fetch_all(
            "SELECT code, name, monthly_credits, features, priority FROM plans "
            "ORDER BY priority, code"
        )
        return [
            PlanRead.model_validate({**row, "features": json.loads(row["features"])})
            for row in rows
        ]
