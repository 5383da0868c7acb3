"""Plans and memberships: ports and SQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db, to_db
from retouch.core.units import sql_adapter
from retouch.quota.schemas import Membership, PlanEdit, PlanRead, PlanWrite


@dataclass(frozen=True, slots=True)
class DueMembership:
    """A membership past its expiry that nothing has handled yet."""

    id: int
    user_id: int
    user_public_id: str
    plan_code: str
    expires_at: datetime


class PlanRepository(Protocol):
    """The plans of the seed config, by code."""

    def upsert(self, plan: PlanWrite) -> None:
        """Insert the plan or replace its fields."""
        ...

    def list(self, *, archived: bool = False) -> list[PlanRead]:
        """Every plan (archived ones too when `archived`), by priority then code."""
        ...

    def get(self, code: str) -> PlanRead | None: ...

    def edit(self, code: str, edit: PlanEdit, *, version: int, now: datetime) -> bool:
        """Replace the plan's fields and count the edit, if its version is still `version`;
        False (nothing changed) otherwise."""
        ...

    def feature_keys(self) -> set[str]:
        """The keys of the feature catalogue (what a plan's `features` may name)."""
        ...


class MembershipRepository(Protocol):
    """Which plan a user holds, and from when until when."""

    def add(
        self, *, user_id: int, plan_code: str, starts_at: datetime, expires_at: datetime | None
    ) -> None: ...

    def current(self, *, user_id: int, at: datetime) -> Membership | None:
        """The membership in force at `at` with the highest-priority plan (latest start
        breaks ties); None when none is."""
        ...

    def end(self, *, user_id: int, at: datetime, keep_plan: str) -> int:
        """End at `at` every membership of the user in force then, but those of `keep_plan`
        (the default plan, open-ended); return how many ended."""
        ...

    def due_to_expire(self, *, at: datetime, keep_plan: str, limit: int) -> list[DueMembership]:
        """Up to `limit` memberships (but those of `keep_plan`) whose expiry passed by `at`
        and that nothing handled yet, locked; rows another transaction holds are skipped."""
        ...

    def mark_expired(self, membership_id: int, *, at: datetime) -> bool:
        """Mark the membership's expiry handled; False when it already was."""
        ...

    def shorten(self, *, user_id: int, plan_code: str, days: int, at: datetime) -> int:
        """Take `days` off every membership of `plan_code` in force at `at` with an expiry;
        one with fewer days left ends at `at`. Return how many changed."""
        ...


def _plan(row: Row) -> PlanRead:
    return PlanRead.model_validate({**row, "features": json.loads(row["features"])})


_PLAN_SELECT = (
    "SELECT code, name, monthly_credits, features, priority, price_display, "
    "max_concurrent_tasks, max_input_pixels, version, archived FROM plans"
)


@sql_adapter(PlanRepository)
class MySQLPlanRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def upsert(self, plan: PlanWrite) -> None:
        self._uow.execute(
            "INSERT INTO plans (code, name, monthly_credits, features, priority, price_display, "
            "max_concurrent_tasks, max_input_pixels) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            # A plan an admin edited keeps the admin's fields: the seed only adds plans.
            "ON DUPLICATE KEY UPDATE name = IF(edited_at IS NULL, VALUES(name), name), "
            "monthly_credits = IF(edited_at IS NULL, VALUES(monthly_credits), monthly_credits), "
            "features = IF(edited_at IS NULL, VALUES(features), features), "
            "priority = IF(edited_at IS NULL, VALUES(priority), priority), "
            "price_display = IF(edited_at IS NULL, VALUES(price_display), price_display), "
            "max_concurrent_tasks = "
            "IF(edited_at IS NULL, VALUES(max_concurrent_tasks), max_concurrent_tasks), "
            "max_input_pixels = IF(edited_at IS NULL, VALUES(max_input_pixels), max_input_pixels)",
            (
                plan.code,
                plan.name,
                plan.monthly_credits,
                json.dumps(plan.features),
                plan.priority,
                plan.price_display,
                plan.max_concurrent_tasks,
                plan.max_input_pixels,
            ),
        )

    def list(self, *, archived: bool = False) -> list[PlanRead]:
        where = "" if archived else " WHERE archived = 0"
        rows = self._uow.fetch_all(_PLAN_SELECT + where + " ORDER BY priority, code")
        return [_plan(row) for row in rows]

    def edit(self, code: str, edit: PlanEdit, *, version: int, now: datetime) -> bool:
        return (
            self._uow.execute(
                "UPDATE plans SET name = %s, monthly_credits = %s, features = %s, priority = %s, "
                "price_display = %s, max_concurrent_tasks = %s, max_input_pixels = %s, "
                "archived = %s, version = version + 1, edited_at = %s "
                "WHERE code = %s AND version = %s",
                (
                    edit.name,
                    edit.monthly_credits,
                    json.dumps(edit.features),
                    edit.priority,
                    edit.price_display,
                    edit.max_concurrent_tasks,
                    edit.max_input_pixels,
                    edit.archived,
                    to_db(now),
                    code,
                    version,
                ),
            )
            == 1
        )

    def feature_keys(self) -> set[str]:
        rows = self._uow.fetch_all("SELECT DISTINCT feature_key FROM feature_definitions")
        return {str(row["feature_key"]) for row in rows}

    def get(self, code: str) -> PlanRead | None:
        row = self._uow.fetch_one(_PLAN_SELECT + " WHERE code = %s", (code,))
        return None if row is None else _plan(row)


@sql_adapter(MembershipRepository)
class MySQLMembershipRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self, *, user_id: int, plan_code: str, starts_at: datetime, expires_at: datetime | None
    ) -> None:
        self._uow.execute(
            "INSERT INTO memberships (user_id, plan_code, starts_at, expires_at) "
            "VALUES (%s, %s, %s, %s)",
            (
                user_id,
                plan_code,
                to_db(starts_at),
                None if expires_at is None else to_db(expires_at),
            ),
        )

    def current(self, *, user_id: int, at: datetime) -> Membership | None:
        """The membership in force at `at` with the highest-priority plan (latest start
        breaks ties)."""
        moment = to_db(at)
        row = self._uow.fetch_one(
            "SELECT p.code, p.name, p.monthly_credits, p.features, p.priority, "
            "p.price_display, p.max_concurrent_tasks, p.max_input_pixels, m.expires_at "
            "FROM memberships m JOIN plans p ON p.code = m.plan_code "
            "WHERE m.user_id = %s AND m.starts_at <= %s "
            "AND (m.expires_at IS NULL OR m.expires_at > %s) "
            "ORDER BY p.priority DESC, m.starts_at DESC LIMIT 1",
            (user_id, moment, moment),
        )
        if row is None:
            return None
        expires_at = row.pop("expires_at")
        return Membership(
            plan=_plan(row), expires_at=None if expires_at is None else from_db(expires_at)
        )

    def end(self, *, user_id: int, at: datetime, keep_plan: str) -> int:
        """End at `at` every membership in force then, but those of `keep_plan`; one that
        starts later is dropped, as it can no longer begin (the period check)."""
        moment = to_db(at)
        self._uow.execute(
            "DELETE FROM memberships WHERE user_id = %s AND plan_code <> %s AND starts_at >= %s",
            (user_id, keep_plan, moment),
        )
        return self._uow.execute(  # ended by a change: not the expiry job's to audit
            "UPDATE memberships SET expires_at = %s, expiry_handled_at = %s WHERE user_id = %s "
            "AND plan_code <> %s AND starts_at < %s AND (expires_at IS NULL OR expires_at > %s)",
            (moment, moment, user_id, keep_plan, moment, moment),
        )

    def due_to_expire(self, *, at: datetime, keep_plan: str, limit: int) -> list[DueMembership]:
        rows = self._uow.fetch_all(  # ix_memberships_expiry
            "SELECT m.id, m.user_id, u.public_id, m.plan_code, m.expires_at FROM memberships m "
            "JOIN users u ON u.id = m.user_id WHERE m.expiry_handled_at IS NULL "
            "AND m.expires_at <= %s AND m.plan_code <> %s ORDER BY m.expires_at, m.id "
            "LIMIT %s FOR UPDATE SKIP LOCKED",
            (to_db(at), keep_plan, limit),
        )
        return [
            DueMembership(
                id=int(row["id"]),
                user_id=int(row["user_id"]),
                user_public_id=row["public_id"],
                plan_code=row["plan_code"],
                expires_at=from_db(row["expires_at"]),
            )
            for row in rows
        ]

    def mark_expired(self, membership_id: int, *, at: datetime) -> bool:
        return (
            self._uow.execute(
                "UPDATE memberships SET expiry_handled_at = %s "
                "WHERE id = %s AND expiry_handled_at IS NULL",
                (to_db(at), membership_id),
            )
            == 1
        )

    def shorten(self, *, user_id: int, plan_code: str, days: int, at: datetime) -> int:
        """Take `days` off the user's memberships of `plan_code` in force at `at`."""
        moment = to_db(at)
        return self._uow.execute(
            "UPDATE memberships SET expires_at = GREATEST(%s, expires_at - INTERVAL %s DAY) "
            "WHERE user_id = %s AND plan_code = %s AND starts_at < %s AND expires_at > %s",
            (moment, days, user_id, plan_code, moment, moment),
        )
