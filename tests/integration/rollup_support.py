"""Generated activity for the rollup tests: tasks with their generate steps, ledger rows and
uploads written straight into the tables at chosen times, in a day of the far future that no
other test writes to, and the direct aggregates the rollups must equal."""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from retouch.core.db import Database
from retouch.core.ids import new_public_id
from retouch.core.time import to_db
from tests.integration.quota_support import new_user

FEATURES = ("cutout", "eraser", "outfit")
PROVIDERS = ("alpha", "beta", None)
STATUSES = ("succeeded", "failed", "canceled", "running")


def far_day() -> datetime:
    """Midnight (UTC) of a random day in 2040-2069: a range of this test's own."""
    start = datetime(2040, 1, 1, tzinfo=timezone.utc)
    return start + timedelta(days=random.randrange(30 * 365))


@dataclass(frozen=True)
class Generated:
    users: list[int]
    tasks: int


def add_task(
    database: Database,
    *,
    user_id: int,
    feature: str,
    status: str,
    created_at: datetime,
    finished_at: datetime | None,
    provider: str | None,
    fallbacks: int = 0,
) -> str:
    """One task row (and its generate step when a provider took it); its public id."""
    public_id = new_public_id("tsk")
    with database.unit_of_work() as uow:
        uow.execute(
            "INSERT INTO tasks (public_id, user_id, feature_key, form_version, pipeline_version, "
            "status, inputs, cost, created_at, finished_at) "
            "VALUES (%s, %s, %s, 1, 1, %s, '{}', 1, %s, %s)",
            (
                public_id,
                user_id,
                feature,
                status,
                to_db(created_at),
                None if finished_at is None else to_db(finished_at),
            ),
        )
        task_id = uow.last_insert_id()
        if provider is not None:
            steps = [{"provider": "gamma", "code": "X", "detail": None}] * fallbacks
            uow.execute(
                "INSERT INTO task_steps (task_id, step_index, step, status, provider_key, "
                "fallbacks, started_at) VALUES (%s, 1, 'generate', 'succeeded', %s, %s, %s)",
                (task_id, provider, json.dumps(steps), to_db(created_at)),
            )
        uow.commit()
    return public_id


def generate(database: Database, day: datetime, *, tasks: int = 240) -> Generated:
    """`tasks` tasks created over the day's first six hours, ending up to 90 minutes later,
    ledger rows of every kind and uploads, all at random times of those hours."""
    rng = random.Random(secrets.randbits(32))
    users = [new_user(database) for _ in range(6)]
    for _ in range(tasks):
        created = day + timedelta(seconds=rng.randrange(6 * 3600))
        status = rng.choice(STATUSES)
        finished = None if status == "running" else created + timedelta(seconds=rng.randrange(5400))
        add_task(
            database,
            user_id=rng.choice(users),
            feature=rng.choice(FEATURES),
            status=status,
            created_at=created,
            finished_at=finished,
            provider=rng.choice(PROVIDERS),
            fallbacks=rng.randrange(3),
        )
    with database.unit_of_work() as uow:
        for index in range(60):
            moment = to_db(day + timedelta(seconds=rng.randrange(6 * 3600)))
            amount, user = rng.randrange(1, 9), rng.choice(users)
            ref = f"rollup:{secrets.token_hex(6)}:{index}"
            rows: list[tuple[Any, ...]] = [(user, "reserve", -amount, ref, moment)]
            rows.append((user, rng.choice(["charge", "refund"]), 0, ref, moment))
            rows.append((user, rng.choice(["grant", "period_grant"]), amount, ref + "g", moment))
            for user_id, kind, credits, row_ref, at in rows:
                credits = amount if kind == "refund" else credits
                uow.execute(
                    "INSERT INTO quota_ledger (user_id, kind, amount, balance_after, ref, "
                    "created_at) VALUES (%s, %s, %s, 1000, %s, %s)",
                    (user_id, kind, credits, row_ref, at),
                )
            uow.execute(
                "INSERT INTO uploads (public_id, user_id, object_key, content_type, "
                "declared_size, status, actual_size, created_at) "
                "VALUES (%s, %s, %s, 'image/png', 100, %s, %s, %s)",
                (
                    new_public_id("upl"),
                    user,
                    f"rollup/{secrets.token_hex(8)}",
                    rng.choice(["ready", "rejected", "pending"]),
                    rng.randrange(1, 10_000),
                    moment,
                ),
            )
        uow.commit()
    return Generated(users=users, tasks=tasks)


def rollup_rows(database: Database, grain: str, start: datetime) -> dict[tuple[str, str, str], int]:
    """The rows of one period: (metric, feature, provider) → value."""
    with database.read_only() as uow:
        rows = uow.fetch_all(
            "SELECT metric, feature_key, provider_key, value FROM rollups "
            "WHERE grain = %s AND period_start = %s",
            (grain, to_db(start)),
        )
    return {(r["metric"], r["feature_key"], r["provider_key"]): int(r["value"]) for r in rows}
