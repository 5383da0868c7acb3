"""Benchmark: scripts/backup, scripts/restore and the verify job over 1M generated tasks.

    .venv/bin/python -m scripts.bench.backup [--rows 1000000] [--before REV --rounds N]

Starts a private MariaDB (buffer pool 1 GB, as tasks.py) and Redis, migrates and seeds, fills
`tasks` with scripts/bench/generate_tasks.py, then runs each script as a separate process
under `/usr/bin/time -v` against that server and a local object folder: the backup, the
restore into a new database, and the verify (restore into the scratch database, compare,
drop). Prints rows/s and peak RSS of each beside the targets (backup ≥ 50,000 rows/s, peak
RSS ≤ 256 MiB), and the part codec side by side: gzip level 1 (what the backup writes)
against zstd level 3 (`backports.zstd`, when installed) on one 50,000-row part of `tasks`.
With `--before REV`, the backup of that revision's layer (`git archive`) and this one's run
`--rounds` times each, interleaved (before, after, before, after …) against the same server
and rows, and the rows/s of each side and their ratio are printed: the load of a shared
machine falls on both sides alike. A measurement, not a test: always exits 0. Results are in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scripts.bench.health import LAYER, ROOT, child_env
from scripts.local.servers import temporary_servers

sys.path.insert(0, str(LAYER))

ROWS_PER_S_TARGET = 50_000
RSS_TARGET_MIB = 256
MARIADB_OPTIONS = ("--innodb-buffer-pool-size=1G",)


def _timed(command: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float, float]:
    """Run `command` under /usr/bin/time -v: its JSON outcome, wall seconds, peak RSS MiB."""
    done = subprocess.run(  # noqa: S603 - our own scripts
        ["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        print(done.stdout, done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{command[0]} exited {done.returncode}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if not (wall and rss):
        raise SystemExit(f"no /usr/bin/time -v figures:\n{done.stderr[-2000:]}")
    hours, minutes, seconds = int(wall[1] or 0), int(wall[2]), float(wall[3])
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome, hours * 3600 + minutes * 60 + seconds, int(rss[1]) / 1024


def _backup_command(layer: Path, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """`scripts/backup` run with `layer`'s retouch package first on the path."""
    command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "scripts.local.backup", "backup"]
    return command, {**env, "PYTHONPATH": f"{layer}:{ROOT}"}


def _side_by_side(env: dict[str, str], before: str, rounds: int, work: Path) -> None:
    """The backup of revision `before` and of this tree, interleaved (module doc)."""
    old_root = work / "before"
    old_root.mkdir()
    archive = subprocess.run(  # noqa: S603 - git, with a revision the operator typed
        ["git", "-C", str(ROOT), "archive", before, "layers/retouch"],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(old_root)], input=archive, check=True)  # noqa: S603,S607
    sides = {f"before ({before})": old_root / "layers" / "retouch", "after (this tree)": LAYER}
    speeds: dict[str, list[float]] = {name: [] for name in sides}
    peaks: dict[str, list[float]] = {name: [] for name in sides}
    for round_number in range(rounds):
        for name, layer in sides.items():
            command, side_env = _backup_command(layer, env)
            outcome, seconds, rss = _timed(command, side_env)
            speeds[name].append(int(outcome["rows"]) / seconds)
            peaks[name].append(rss)
            print(f"round {round_number + 1} {name}: {speeds[name][-1]:,.0f} rows/s, {rss:.0f} MiB")
    print(f"\nbackup, {rounds} rounds interleaved (mean rows/s, largest peak RSS):")
    means = {name: sum(values) / len(values) for name, values in speeds.items()}
    for name, mean in means.items():
        print(f"  {name:<24}{mean:>10,.0f} rows/s{max(peaks[name]):>8.0f} MiB")
    before_speed, after_speed = means.values()
    print(f"  after / before: {after_speed / before_speed:.2f}×")


def _codecs(objects: Path, manifest: dict[str, Any]) -> None:
    (tasks,) = [t for t in manifest["tables"] if t["name"] == "tasks"]
    raw = gzip.decompress((objects / tasks["parts"][0]["key"]).read_bytes())
    print(f"\npart codec, one part of tasks ({len(raw) / 2**20:.1f} MiB of lines):")
    rows: list[tuple[str, Callable[[bytes], bytes]]] = [
        ("gzip -1", lambda d: gzip.compress(d, 1, mtime=0))
    ]
    try:
        from backports import zstd  # type: ignore[import-not-found,unused-ignore]

        rows.append(("zstd -3", lambda d: bytes(zstd.compress(d, 3))))
    except ImportError:
        print("  zstd: backports.zstd not installed, not measured")
    for name, compress in rows:
        started = time.perf_counter()
        size = len(compress(raw))
        took = time.perf_counter() - started
        print(f"  {name}: {took * 1000:7.1f} ms, {size / 2**20:5.2f} MiB ({size / len(raw):.1%})")


def run(rows: int, before: str | None = None, rounds: int = 3) -> None:
    with temporary_servers("retouch-bench-backup-", MARIADB_OPTIONS) as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        env["RETOUCH_STORAGE_LOCAL_ROOT"] = str(work / "objects")
        env["RETOUCH_STORAGE_LOCAL_SIGNING_KEY"] = "b" * 43
        env["RETOUCH_METRICS_SINK"] = "none"
        env["RETOUCH_SECRET_BACKUP_SIGNING_KEYS"] = json.dumps({"bench-1": "k" * 32})
        env["PYTHONPATH"] = f"{LAYER}:{ROOT}"
        os.environ.update(env)
        from retouch.core.db import get_database
        from retouch.core.settings import get_settings
        from scripts.bench.generate_tasks import generate
        from scripts.local.migrate import apply_migrations, load_seed

        apply_migrations(get_settings())
        load_seed()
        generate(get_database(), rows=rows, user_rows=min(50_000, rows))
        get_database().close()
        if before:
            _side_by_side(env, before, rounds, work)
        results = []
        backup, seconds, rss = _timed([str(ROOT / "scripts" / "backup")], env)
        results.append(("backup", int(backup["rows"]), seconds, rss))
        restored, seconds, rss = _timed(
            [
                str(ROOT / "scripts" / "restore"),
                "--backup",
                "latest",
                "--database",
                "retouch_restored",
            ],
            env,
        )
        results.append(("restore", int(restored["rows"]), seconds, rss))
        verified, seconds, rss = _timed([str(ROOT / "scripts" / "backup"), "--verify"], env)
        results.append((f"verify ({verified['outcome']})", int(verified["rows"]), seconds, rss))
        print(f"\n{rows:,} generated tasks; backup {backup['bytes'] / 2**20:.1f} MiB")
        print(f"{'run':<18}{'rows':>10}{'seconds':>9}{'rows/s':>10}{'peak RSS MiB':>14}")
        for name, count, took, peak in results:
            print(f"{name:<18}{count:>10,}{took:>9.1f}{count / took:>10,.0f}{peak:>14.1f}")
        speed = results[0][1] / results[0][2]
        print(
            f"backup {speed / ROWS_PER_S_TARGET:.2f}× the {ROWS_PER_S_TARGET:,} rows/s target; "
            f"largest peak RSS {max(r[3] for r in results) / RSS_TARGET_MIB:.2f}× the "
            f"{RSS_TARGET_MIB} MiB limit"
        )
        manifest_path = work / "objects" / "backups" / str(backup["backup_id"]) / "manifest.json"
        _codecs(work / "objects", json.loads(manifest_path.read_text()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="tasks to generate")
    parser.add_argument("--before", help="a revision whose backup to run side by side")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each side")
    arguments = parser.parse_args(argv)
    run(arguments.rows, arguments.before, arguments.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
