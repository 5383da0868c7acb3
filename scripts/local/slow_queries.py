"""`scripts/slow-queries`: the slow statements of a log, digested.

    scripts/slow-queries [--top 20] [--sort total|p95|count] [FILE ...]

Each FILE is either MariaDB's slow query log (the local stack's `.local/mariadb/slow.log`, the
test run's under its temporary folder; threshold RETOUCH_DB_SLOW_MS) or our JSON log lines
(the `slow statement` lines the DB layer writes, e.g. saved from CloudWatch Logs or CLS); the
kind is told per line. Without FILE, the local stack's slow log. Statements are grouped by
digest (`retouch.core.db_statements.normalise`: literals as `?`) and printed with their count,
total, p95 and max time in milliseconds, the largest first.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from retouch.core.db_statements import normalise

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LOG = ROOT / ".local" / "mariadb" / "slow.log"
_QUERY_TIME = re.compile(r"^# Query_time: ([\d.]+)")
_NOT_A_STATEMENT = re.compile(r"^(use \S+|SET timestamp=\d+);$", re.IGNORECASE)


@dataclass
class Digest:
    """Every duration (ms) of one statement shape."""

    statement: str
    durations: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.durations)

    @property
    def p95(self) -> float:
        ordered = sorted(self.durations)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _slow_log_entries(lines: Iterable[str]) -> Iterator[tuple[str, float]]:
    """(statement, ms) of each entry of MariaDB's slow log."""
    duration: float | None = None
    statement: list[str] = []
    for line in lines:
        found = _QUERY_TIME.match(line)
        if found:
            duration, statement = float(found.group(1)) * 1000, []
        elif duration is not None and not line.startswith("#"):
            if not statement and _NOT_A_STATEMENT.match(line.strip()):
                continue
            statement.append(line.strip())
            if line.rstrip().endswith(";"):
                yield " ".join(statement), duration
                duration = None


def entries(lines: Iterable[str]) -> Iterator[tuple[str, float]]:
    """(digest, ms) of every slow statement in `lines`, JSON log lines and slow-log lines
    alike."""
    text_lines = []
    for line in lines:
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("message") == "slow statement":
                yield record["digest"], float(record["duration_ms"])
        else:
            text_lines.append(line)
    for statement, duration in _slow_log_entries(text_lines):
        yield normalise(statement), duration


def digest(pairs: Iterable[tuple[str, float]], *, sort: str = "total") -> list[Digest]:
    """The statements of `pairs`, grouped, largest `sort` first."""
    groups: dict[str, Digest] = defaultdict(lambda: Digest(""))
    for statement, duration in pairs:
        group = groups[statement]
        group.statement = statement
        group.durations.append(duration)
    key = {"total": "total", "p95": "p95", "count": "durations"}[sort]
    return sorted(
        groups.values(),
        key=lambda group: len(group.durations) if key == "durations" else getattr(group, key),
        reverse=True,
    )


def render(digests: Sequence[Digest], *, top: int) -> str:
    rows = [f"{'count':>7} {'total ms':>10} {'p95 ms':>9} {'max ms':>9}  statement"]
    for group in digests[:top]:
        rows.append(
            f"{len(group.durations):>7} {group.total:>10.1f} {group.p95:>9.1f} "
            f"{max(group.durations):>9.1f}  {group.statement}"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=[DEFAULT_LOG])
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--sort", choices=["total", "p95", "count"], default="total")
    args = parser.parse_args(argv)
    lines: list[str] = []
    for path in args.files:
        if not path.exists():
            print(f"slow-queries: {path}: no such file", file=sys.stderr)
            return 2
        lines += path.read_text(errors="replace").splitlines()
    print(render(digest(entries(lines), sort=args.sort), top=args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
