"""Benchmark: the tasks function — read, create, and the first against a deep list page.

    .venv/bin/python -m scripts.bench.tasks [--rows 1000000] [--user-rows 50000] [--users N]
        [--warm-calls N] [--warm-rounds N] [--warmup N]

Starts a private MariaDB (its buffer pool sized for the data, as a production server's is)
and Redis, migrates and seeds, registers one user (scripts/bench/me.py's `sign_up`) and fills
`tasks` with scripts/bench/generate_tasks.py: `--rows` tasks of which `--user-rows` are that user's.
Then, each through API Gateway REST v1 events built from events/tasks_aws_rest.json with the
user's access token, in tests/bench/invoke.py's interleaved warm mode:

a. `GET /v1/tasks/{id}` (the user's newest succeeded task: one signed output URL) against the
   bare FastAPI+Mangum app (tests/bench/bare_app.py, one Redis GET); target p50 ≤ 2× bare;
b. `GET /v1/tasks?limit=100`, page 1 against page 500 (the cursor found by walking the pages
   once; at 50,000 tasks it is the last page) in one interpreter; target deep p50 ≤ 1.5×
   page 1; with the EXPLAIN of the deep page's statement (an index range, no filesort);
c. `POST /v1/tasks` (cutout, one ready upload, no Idempotency-Key: every call creates a task)
   against the bare app, reported in ms with the ratio for context; no target.

Prints the tables and the verdicts and always exits 0: a measurement, not a test. Results
are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.bench.health import (
    LAYER,
    ROOT,
    child_env,
    percentile,
    run_events,
    run_warm,
    warm_argument_parser,
)
from scripts.bench.me import sign_up
from scripts.local.servers import temporary_servers

# `python -m scripts.bench.tasks` from the checkout: the layer is what /opt/python is on Lambda.
sys.path.insert(0, str(LAYER))

from retouch.core.db import UnitOfWork  # after the layer is on the path

OURS = ROOT / "functions" / "http" / "tasks" / "app.py"
EVENT = ROOT / "events" / "tasks_aws_rest.json"
READ_TARGET = 2.0
DEEP_PAGE_TARGET = 1.5
PAGE_SIZE = 100
DEEP_PAGE = 500
# A production server holds its working set in memory; the private server's default (64 MB)
# would measure the disk cache instead.
MARIADB_OPTIONS = ("--innodb-buffer-pool-size=1G",)


def rest_event(
    token: str,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """events/tasks_aws_rest.json as `method path?query` with `body`, signed in as `token`."""
    event: dict[str, Any] = copy.deepcopy(json.loads(EVENT.read_text()))
    authorization = f"Bearer {token}"
    event["headers"]["Authorization"] = authorization
    event["multiValueHeaders"]["Authorization"] = [authorization]
    if body is not None:
        event["headers"]["Content-Type"] = "application/json"
        event["multiValueHeaders"]["Content-Type"] = ["application/json"]
        event["body"] = json.dumps(body)
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = (
        None if query is None else {key: [value] for key, value in query.items()}
    )
    return event


class RecordingUnitOfWork(UnitOfWork):
    """A read-only unit of work that runs nothing on `fetch_all` but keeps the statement, so
    the repository's own query of a page can be EXPLAINed."""

    statement: tuple[str, Any] = ("", None)

    def fetch_all(self, sql: str, params: Any = None) -> list[Any]:
        self.statement = (sql, params)
        return []


@dataclass
class Prepared:
    token: str
    task_id: str  # the user's newest succeeded task
    deep_cursor: str
    explain: list[dict[str, Any]]
    create_body: dict[str, Any]
    generated_s: float
    generated_rate: float


def ready_upload(database: Any, user: Any, *, credits: int) -> str:
    """Grant `user` (a retouch.core.identity.User) `credits` and give it a ready 8×8 PNG
    upload (no object behind it: creating a task reads only the row); the upload's id. The
    plans lose their limit on unfinished tasks: no engine runs the tasks a benchmark creates,
    and thousands of them are created (so a create skips the count of unfinished tasks)."""
    from retouch.core.ids import new_public_id
    from retouch.quota.service import grant_credits
    from retouch.storage import upload_key

    upload = new_public_id("upl")
    with database.unit_of_work() as uow:
        grant_credits(uow=uow, user_id=user.id, amount=credits, reason="bench", ref=upload)
        uow.execute(
            "INSERT INTO uploads (public_id, user_id, object_key, content_type, declared_size, "
            "status, width, height, actual_size) "
            "VALUES (%s, %s, %s, 'image/png', 100, 'ready', 8, 8, 100)",
            (upload, user.id, upload_key(user_id=user.public_id, upload_id=upload)),
        )
        uow.execute("UPDATE plans SET max_concurrent_tasks = NULL")
        uow.commit()
    return upload


def prepare(args: argparse.Namespace, env: dict[str, str]) -> Prepared:
    """Sign up, generate the tasks, grant credits, make an upload; walk to the deep page."""
    from retouch.bootstrap.clients import reset_clients
    from retouch.caller.service import authenticate
    from retouch.core.db import get_database
    from retouch.core.security import TokenConfig
    from retouch.core.settings import get_settings
    from retouch.storage import get_storage
    from retouch.tasks.repository import MySQLTaskRepository
    from retouch.tasks.views import list_tasks
    from scripts.bench.generate_tasks import generate

    token = sign_up(env)
    database, settings = get_database(), get_settings()
    principal = authenticate(
        database=database, config=TokenConfig.from_settings(settings), access_token=token
    )
    user = principal.user
    generated = generate(
        database, rows=args.rows, user_rows=args.user_rows, users=args.users, owner=user.public_id
    )
    upload = ready_upload(database, user, credits=100 * (args.warmup + args.warm_calls))
    with database.unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT public_id FROM tasks WHERE user_id = %s AND status = 'succeeded' "
            "ORDER BY created_at DESC LIMIT 1",
            (user.id,),
        )
        uow.commit()
    if row is None:
        raise RuntimeError("the user has no succeeded task: generate more rows")
    print(f"walking to page {DEEP_PAGE} …", file=sys.stderr)
    cursor = None
    for _ in range(DEEP_PAGE - 1):
        page = list_tasks(
            database=database,
            storage=get_storage(),
            settings=settings,
            principal=principal,
            status=None,
            feature=None,
            cursor=cursor,
            limit=PAGE_SIZE,
            language="en",
        )
        cursor = page.next_cursor
    if cursor is None:
        raise RuntimeError(f"fewer than {DEEP_PAGE} pages: pass --user-rows ≥ 50000")
    last = page.items[-1]
    with database.read_only() as recording:
        recorder = RecordingUnitOfWork(database, read_only=True)
        with recorder:
            MySQLTaskRepository(recorder).page(
                user_id=user.id,
                status=None,
                feature_key=None,
                after=(last.created_at, last.id),
                limit=PAGE_SIZE + 1,
            )
        sql, params = recorder.statement
        explain = recording.fetch_all("EXPLAIN " + sql, params)
    reset_clients()
    return Prepared(
        token=token,
        task_id=str(row["public_id"]),
        deep_cursor=cursor,
        explain=explain,
        create_body={"feature": "cutout", "inputs": {"image": upload}},
        generated_s=generated.seconds,
        generated_rate=generated.rows_per_second,
    )


def measure(
    args: argparse.Namespace, prepared: Prepared, work: Path, env: dict[str, str]
) -> dict[str, dict[str, list[int]]]:
    """The three runs, in an order that keeps the list unchanged until it is measured."""
    token = prepared.token
    events = {
        "read": rest_event(token, "GET", f"/v1/tasks/{prepared.task_id}"),
        "page 1": rest_event(token, "GET", "/v1/tasks", query={"limit": str(PAGE_SIZE)}),
        f"page {DEEP_PAGE}": rest_event(
            token,
            "GET",
            "/v1/tasks",
            query={"limit": str(PAGE_SIZE), "cursor": prepared.deep_cursor},
        ),
        "create": rest_event(token, "POST", "/v1/tasks", body=prepared.create_body),
    }
    files = {}
    for name, event in events.items():
        files[name] = work / f"event-{name.replace(' ', '-')}.json"
        files[name].write_text(json.dumps(event))
    per_round = max(1, args.warm_calls // args.warm_rounds)
    counts = {"warmup": args.warmup, "rounds": args.warm_rounds, "per_round": per_round}
    samples = {}
    print(f"read: {args.warm_rounds} rounds x {per_round} calls per app …", file=sys.stderr)
    samples["read"] = run_warm(OURS, files["read"], work, env, **counts, name="read")["samples_ns"]
    pages = {name: files[name] for name in ("page 1", f"page {DEEP_PAGE}")}
    page_counts = {**counts, "warmup": max(1, args.warmup // 10)}
    page_counts["per_round"] = max(1, per_round // 10)
    print(f"pages: {args.warm_rounds} rounds x {page_counts['per_round']} calls …", file=sys.stderr)
    samples["pages"] = run_events(OURS, pages, work, env, **page_counts, name="pages")["samples_ns"]
    print(f"create: {args.warm_rounds} rounds x {per_round} calls per app …", file=sys.stderr)
    samples["create"] = run_warm(OURS, files["create"], work, env, **counts, name="create")[
        "samples_ns"
    ]
    return samples


def _ratio_row(label: str, mine: float, theirs: float, unit: str, target: float | None) -> str:
    digits = 2 if unit == "ms" else 0
    cells = [label, f"{mine:.{digits}f} {unit}", f"{theirs:.{digits}f} {unit}"]
    cells.append(f"{mine / theirs:.2f}×")
    if target is None:
        cells += ["", ""]
    else:
        cells += [f"≤ {target}×", "pass" if mine / theirs <= target else "FAIL"]
    return "| " + " | ".join(cells) + " |"


def report(
    samples: dict[str, dict[str, list[int]]], prepared: Prepared, args: argparse.Namespace
) -> str:
    def micro(run: str, side: str) -> list[float]:
        return [ns / 1000 for ns in samples[run][side]]

    deep = f"page {DEEP_PAGE}"
    lines = [
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"data: {args.rows:,} tasks, {args.user_rows:,} of the user's, generated in "
        f"{prepared.generated_s:.0f} s ({prepared.generated_rate:,.0f} tasks/s, with the users)",
        f"warm: {len(samples['read']['ours'])} calls per app (pages: "
        f"{len(samples['pages']['page 1'])} per page) in one process each, "
        f"{args.warm_rounds} interleaved rounds; events: REST v1",
        "",
        "| metric | retouch tasks | baseline | ratio | target | result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    verdicts = []
    for run, label, first, second, target in (
        ("read", "GET /v1/tasks/{id} vs bare", "ours", "bare", READ_TARGET),
        ("pages", f"GET /v1/tasks {deep} vs page 1", deep, "page 1", DEEP_PAGE_TARGET),
        ("create", "POST /v1/tasks vs bare", "ours", "bare", None),
    ):
        unit = "ms" if run == "create" else "µs"
        scale = 1000 if unit == "ms" else 1
        for q in (50, 90, 99):
            mine = percentile(micro(run, first), q) / scale
            theirs = percentile(micro(run, second), q) / scale
            judged = target if q == 50 else None
            lines.append(_ratio_row(f"{label}, p{q}", mine, theirs, unit, judged))
            if judged is not None:
                passed = mine / theirs <= judged
                verdicts.append(f"{run} p50 {mine / theirs:.2f}× {'pass' if passed else 'FAIL'}")
    lines += ["", f"EXPLAIN of the {deep} statement:", ""]
    columns = ["table", "type", "key", "key_len", "rows", "Extra"]
    lines += ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += [
        "| " + " | ".join(str(row.get(c)) for c in columns) + " |" for row in prepared.explain
    ]
    uses_range = all(row["type"] == "range" for row in prepared.explain)
    sorts = any("filesort" in str(row.get("Extra")) for row in prepared.explain)
    lines += [
        "",
        f"deep page plan: {'index range' if uses_range else 'NOT a range'}, "
        f"{'FILESORT' if sorts else 'no filesort'}",
    ]
    overall = "PASS" if all(v.endswith("pass") for v in verdicts) else "FAIL"
    lines.append(f"verdict: {overall} — {'; '.join(verdicts)}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = warm_argument_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="tasks in the table")
    parser.add_argument("--user-rows", type=int, default=50_000, help="of which the user's")
    parser.add_argument("--users", type=int, help="other accounts (default rows/50)")
    args = parser.parse_args(argv)
    if min(args.warm_calls, args.warm_rounds) < 1 or args.warmup < 0:
        parser.error("counts must be positive")
    if not PAGE_SIZE * DEEP_PAGE <= args.user_rows <= args.rows:
        parser.error(f"need {PAGE_SIZE * DEEP_PAGE} ≤ user-rows ≤ rows")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with temporary_servers("retouch-bench-tasks-", MARIADB_OPTIONS) as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        # Every create comes from one user: the per-user limit runs but must never refuse.
        env["RETOUCH_RATE_LIMIT_TASKS_PER_USER_PER_MIN"] = "1000000"
        prepared = prepare(args, env)
        samples = measure(args, prepared, work, env)
    print(report(samples, prepared, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
