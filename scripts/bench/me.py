"""Benchmark: warm `GET /v1/me` (authenticated, rate limited) against the bare app, one run.

    .venv/bin/python -m scripts.bench.me [--warm-calls N] [--warm-rounds N] [--warmup N]

Starts a private MariaDB and Redis, migrates and seeds, registers one user through the auth
service, then runs tests/bench/invoke.py's warm mode: one fresh interpreter holding the users
function and the bare FastAPI+Mangum app (tests/bench/bare_app.py: one Redis GET, also served
at /v1/me), interleaved rounds of in-process invocations of an API Gateway REST v1
`GET /v1/me` event (events/users_aws_rest.json with the user's access token).

What one `GET /v1/me` costs on our side: the per-IP rate limit (one EVALSHA), the access
token check (HS256, no I/O), the deny list (one EXISTS), the user (one SELECT by public id)
and the membership (one SELECT). Prints a table and a verdict against the target (warm p50 ≤
2× bare) and always exits 0: a measurement, not a test. Results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from scripts.bench.health import (
    LAYER,
    ROOT,
    child_env,
    percentile,
    prepare_servers,
    run_warm,
    warm_argument_parser,
)
from scripts.local.servers import temporary_servers

# `python -m scripts.bench.me` from the checkout: the layer is what /opt/python is on Lambda.
sys.path.insert(0, str(LAYER))

OURS = ROOT / "functions" / "http" / "users" / "app.py"
EVENT = ROOT / "events" / "users_aws_rest.json"
WARM_TARGET = 2.0


def sign_up(env: dict[str, str]) -> str:
    """Migrate, seed and register one user in the servers of `env`; its access token."""
    prepare_servers(env)
    from retouch.auth.schemas import EmailVerification
    from retouch.auth.service import register
    from retouch.auth.verification import verify_email
    from retouch.bootstrap.clients import reset_clients
    from retouch.core.db import get_database
    from retouch.core.settings import get_settings
    from retouch.notify.mailer import Mail

    mails: list[Mail] = []
    settings = get_settings()
    register(
        database=get_database(),
        settings=settings,
        email="bench-me@example.com",
        password=secrets.token_urlsafe(16) + "-Aa1",
        mailer=type("Inbox", (), {"send": staticmethod(mails.append)})(),
    )
    link = settings.email_verification_url  # the mailed link ends with the token
    token = mails[-1].text.split(link, 1)[1].split()[0]
    pair = verify_email(
        database=get_database(),
        settings=settings,
        proof=EmailVerification(token=token),
        client=None,
    )
    reset_clients()
    return pair.access_token


def measure(args: argparse.Namespace, work: Path, env: dict[str, str]) -> dict[str, list[int]]:
    token = sign_up(env)
    event_file = work / "event.json"
    event_file.write_text(EVENT.read_text().replace("<access-token>", token))
    per_round = max(1, args.warm_calls // args.warm_rounds)
    print(f"warm: {args.warm_rounds} rounds x {per_round} calls per app …", file=sys.stderr)
    result = run_warm(
        OURS,
        event_file,
        work,
        env,
        warmup=args.warmup,
        rounds=args.warm_rounds,
        per_round=per_round,
    )
    samples: dict[str, list[int]] = result["samples_ns"]
    return samples


def report(samples: dict[str, list[int]], args: argparse.Namespace) -> str:
    ours, bare = ([ns / 1000 for ns in samples[side]] for side in ("ours", "bare"))
    lines = [
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"warm: {len(ours)} calls per app in one process after {args.warmup} warm-up calls "
        f"each, {args.warm_rounds} interleaved rounds; event: REST v1 GET /v1/me",
        "",
        "| metric | retouch users (/v1/me) | bare FastAPI+Mangum | ratio | target | result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    verdict = ""
    for q in (50, 90, 99):
        mine, theirs = percentile(ours, q), percentile(bare, q)
        ratio = mine / theirs
        judged = q == 50
        cells = [f"warm: GET /v1/me, p{q}", f"{mine:.0f} µs", f"{theirs:.0f} µs", f"{ratio:.2f}×"]
        if judged:
            passed = ratio <= WARM_TARGET
            cells += [f"≤ {WARM_TARGET}×", "pass" if passed else "FAIL"]
            verdict = f"verdict: {'PASS' if passed else 'FAIL'} — warm p50 {ratio:.2f}×"
        else:
            cells += ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", verdict])


def main(argv: Sequence[str] | None = None) -> int:
    args = warm_argument_parser(__doc__).parse_args(argv)
    with temporary_servers("retouch-bench-me-") as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        samples = measure(args, work, env)
    print(report(samples, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
