"""Data generator: fill `tasks` with realistic rows for the list and read benchmarks.

    .venv/bin/python -m scripts.bench.generate_tasks --rows 1000000 --user-rows 50000 [--users N] \
        [--owner usr_…] [--months 6]

Writes into the migrated and seeded database named by RETOUCH_DB_* (scripts/bench/tasks.py
calls `generate` on its private server). It adds `--users` accounts (50 tasks each on average
unless given) and one owner (`--owner`, or a new account) who gets exactly `--user-rows` of
the `--rows` tasks, spread among the others' rows by id. Every task has a seeded feature, a
status drawn from a realistic mix (mostly succeeded, with outputs; some failed with a registry
code; a few canceled, queued or running), small inputs naming upload ids, and a creation time
spread over `--months` months up to now, rising with the row id as real inserts do. 2% of the
other users' tasks are hidden (deleted by their owner); none of the owner's, so their list
has exactly `--user-rows` entries. Rerunning adds more rows and users beside the earlier ones.

Rows go in as multi-row INSERTs (pymysql's `executemany` folds `INSERT … VALUES (%s, …)` into
statements of up to 1 MB), one transaction per batch of 5,000, with progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from queue import Queue
from threading import Thread
from typing import Any, TextIO

# `python -m scripts.bench.generate_tasks` from the checkout: the layer is /opt/python on Lambda.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "retouch"))

BATCH_ROWS = 5_000
HIDDEN_SHARE = 0.02
# (status, weight, revision): finished tasks changed twice (started, finished), running once.
STATUSES = (
    ("succeeded", 80, 3),
    ("failed", 8, 3),
    ("canceled", 5, 2),
    ("queued", 4, 1),
    ("running", 3, 2),
)
FAILURE_CODES = ("INTERNAL", "SERVICE_UNAVAILABLE", "VALIDATION_FAILED")
# The upload fields of each seeded feature's form; another feature gets one image.
UPLOAD_FIELDS = {
    "cutout": ("image",),
    "eraser": ("image", "mask"),
    "outfit": ("image", "garment"),
    "faceswap": ("image", "face"),
    "outpaint": ("image",),
}
OTHER_INPUTS: dict[str, dict[str, str]] = {
    "outfit": {"garment_type": "upper"},
    "outpaint": {"ratio": "16:9"},
}
_INSERT_USERS = (
    "INSERT INTO users (public_id, email, password_hash, created_at, updated_at, "
    "email_verified_at) VALUES (%s, %s, %s, %s, %s, %s)"
)
_INSERT_TASKS = (
    "INSERT INTO tasks (public_id, user_id, feature_key, form_version, pipeline_version, "
    "status, inputs, output, error_code, cost, hidden, revision, created_at, started_at, "
    "finished_at, deadline_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


@dataclass(frozen=True)
class Feature:
    key: str
    cost: int
    form_version: int
    pipeline_version: int


@dataclass(frozen=True)
class Generated:
    """What one run added: the owner of `user_rows` tasks, and how long the inserts took."""

    owner_id: int
    owner_public_id: str
    users: int
    rows: int
    user_rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class Progress:
    """Rows done, rows per second and the time left, on `stream` at most once a second."""

    def __init__(self, what: str, total: int, stream: TextIO) -> None:
        self._what, self._total, self._stream = what, total, stream
        self._started = self._shown = time.monotonic()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if done < self._total and now - self._shown < 1:
            return
        self._shown = now
        rate = done / max(now - self._started, 1e-9)
        eta = (self._total - done) / rate if rate else 0.0
        print(
            f"{self._what}: {done:,}/{self._total:,} ({100 * done / self._total:.0f}%), "
            f"{rate:,.0f} rows/s, ETA {eta:.0f} s",
            file=self._stream,
        )


def _features(connection: Any) -> list[Feature]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT feature_key, cost, form_version, pipeline_version FROM feature_definitions "
            "ORDER BY feature_key"
        )
        rows = cursor.fetchall()
    if not rows:
        raise SystemExit(
            "no features: migrate and seed the database first (scripts/local/migrate.py)"
        )
    return [
        Feature(
            key=row["feature_key"],
            cost=int(row["cost"]),
            form_version=int(row["form_version"] or 1),
            pipeline_version=int(row["pipeline_version"] or 0),
        )
        for row in rows
    ]


def _batches(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    """`rows` in lists of BATCH_ROWS, built by a second thread while the server inserts the
    previous list (the socket wait releases the GIL): generation and insert overlap."""
    made: Queue[list[tuple[Any, ...]] | BaseException | None] = Queue(maxsize=2)

    def produce() -> None:
        try:
            while batch := list(islice(rows, BATCH_ROWS)):
                made.put(batch)
            made.put(None)
        except BaseException as exc:  # noqa: BLE001 - raised again by the consumer
            made.put(exc)

    Thread(target=produce, name="generate-rows", daemon=True).start()
    while (item := made.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def _insert_batches(
    connection: Any, sql: str, rows: Iterator[tuple[Any, ...]], progress: Progress
) -> None:
    """Insert `rows` in transactions of BATCH_ROWS, each as a few multi-row statements."""
    done = 0
    for batch in _batches(rows):
        connection.begin()
        try:
            with connection.cursor() as cursor:
                cursor.executemany(sql, batch)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        done += len(batch)
        progress.update(done)


def add_users(connection: Any, count: int, *, now: datetime, stream: TextIO) -> list[int]:
    """`count` new active, verified accounts (a valid hash of a password nobody knows); their
    ids."""
    from retouch.core.ids import new_public_id
    from retouch.core.security import hash_password
    from retouch.core.time import to_db

    run = secrets.token_hex(4)
    password_hash = hash_password(secrets.token_urlsafe(24))
    created = to_db(now)
    users = (
        (
            new_public_id("usr"),
            f"gen-{run}-{n}@example.com",
            password_hash,
            created,
            created,
            created,
        )
        for n in range(count)
    )
    _insert_batches(connection, _INSERT_USERS, users, Progress("users", count, stream))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM users WHERE email LIKE %s ORDER BY id", (f"gen-{run}-%@example.com",)
        )
        return [int(row["id"]) for row in cursor.fetchall()]


def _owner(connection: Any, public_id: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM users WHERE public_id = %s", (public_id,))
        row = cursor.fetchone()
    if row is None:
        raise SystemExit(f"no user {public_id}")
    return int(row["id"])


def task_rows(
    *,
    rows: int,
    user_rows: int,
    owner_id: int,
    user_ids: Sequence[int],
    features: Sequence[Feature],
    start: datetime,
    end: datetime,
    rng: random.Random,
) -> Iterator[tuple[Any, ...]]:
    """`rows` task rows in creation order; `user_rows` of them, spread evenly at random,
    belong to `owner_id`, the others to random `user_ids`. `start` and `end` are naive UTC,
    as `DATETIME` columns hold them (no conversion per row)."""
    from retouch.core.ids import new_public_id
    from retouch.storage import output_key

    statuses = [status for status, _, _ in STATUSES]
    weights = [weight for _, weight, _ in STATUSES]
    revisions = {status: revision for status, _, revision in STATUSES}
    step = (end - start) / rows
    deadline = timedelta(minutes=15)
    owner_left = user_rows
    for index in range(rows):
        owned = rng.random() * (rows - index) < owner_left
        owner_left -= owned
        user_id = owner_id if owned else rng.choice(user_ids)
        feature = rng.choice(features)
        status = rng.choices(statuses, weights)[0]
        created = start + step * index + timedelta(milliseconds=rng.randrange(1000))
        public_id = new_public_id("tsk")
        fields = UPLOAD_FIELDS.get(feature.key, ("image",))
        inputs = {field: new_public_id("upl") for field in fields}
        inputs.update(OTHER_INPUTS.get(feature.key, {}))
        output = None
        if status == "succeeded":
            size = rng.choice((768, 1024, 1536))
            key = output_key(task_id=public_id, name="0.png")
            output = json.dumps({"images": [{"key": key, "width": size, "height": size}]})
        started = None if status == "queued" else created + timedelta(seconds=rng.uniform(0.1, 3))
        finished = None
        if status in ("succeeded", "failed", "canceled"):
            finished = created + timedelta(seconds=rng.uniform(4, 90))
        yield (
            public_id,
            user_id,
            feature.key,
            feature.form_version,
            feature.pipeline_version,
            status,
            json.dumps(inputs, separators=(",", ":")),
            output,
            rng.choice(FAILURE_CODES) if status == "failed" else None,
            feature.cost,
            not owned and rng.random() < HIDDEN_SHARE,
            revisions[status],
            created,
            started,
            finished,
            created + deadline,
        )


def generate(
    database: Any,
    *,
    rows: int,
    user_rows: int,
    users: int | None = None,
    owner: str | None = None,
    months: float = 6,
    stream: TextIO = sys.stderr,
) -> Generated:
    """Add `rows` tasks (`user_rows` of them the owner's) and `users` accounts to `database`
    (a retouch.core.db.Database); the owner is `owner` (a public id) or a new account."""
    from retouch.core.time import to_db, utc_now

    if not 0 <= user_rows <= rows:
        raise ValueError("user_rows must be between 0 and rows")
    users = max(1, (rows - user_rows) // 50) if users is None else users
    if users < 1:
        raise ValueError("users must be positive")
    connection = database.connection()
    started = time.monotonic()
    now = utc_now()
    features = _features(connection)
    user_ids = add_users(connection, users + (owner is None), now=now, stream=stream)
    owner_id = user_ids.pop() if owner is None else _owner(connection, owner)
    with connection.cursor() as cursor:
        cursor.execute("SELECT public_id FROM users WHERE id = %s", (owner_id,))
        owner_public_id = str(cursor.fetchone()["public_id"])
    tasks = task_rows(
        rows=rows,
        user_rows=user_rows,
        owner_id=owner_id,
        user_ids=user_ids,
        features=features,
        start=to_db(now - timedelta(days=30.4 * months)),
        end=to_db(now),
        rng=random.Random(secrets.randbits(64)),  # noqa: S311 - test data, not secrets
    )
    _insert_batches(connection, _INSERT_TASKS, tasks, Progress("tasks", rows, stream))
    return Generated(
        owner_id=owner_id,
        owner_public_id=owner_public_id,
        users=users,
        rows=rows,
        user_rows=user_rows,
        seconds=time.monotonic() - started,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="tasks to add")
    parser.add_argument("--user-rows", type=int, default=50_000, help="of which the owner's")
    parser.add_argument("--users", type=int, help="other accounts to add (default rows/50)")
    parser.add_argument("--owner", help="public id of the owner (default: a new account)")
    parser.add_argument("--months", type=float, default=6, help="creation times span this")
    args = parser.parse_args(argv)
    if args.rows < 1 or not 0 <= args.user_rows <= args.rows or (args.users or 1) < 1:
        parser.error("need rows ≥ 1, 0 ≤ user-rows ≤ rows and users ≥ 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from retouch.core.db import get_database

    generated = generate(
        get_database("job"),
        rows=args.rows,
        user_rows=args.user_rows,
        users=args.users,
        owner=args.owner,
        months=args.months,
    )
    print(
        f"added {generated.rows:,} tasks ({generated.user_rows:,} of owner "
        f"{generated.owner_public_id}) and {generated.users:,} users in "
        f"{generated.seconds:.1f} s ({generated.rows_per_second:,.0f} tasks/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
