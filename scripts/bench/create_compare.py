"""Benchmark: `POST /v1/tasks` of two checkouts, before and after a change, side by side.

    .venv/bin/python -m scripts.bench.create_compare --before DIR [--runs 3]
        [--warm-calls 1200] [--warm-rounds 8]

DIR is another checkout of this repository (e.g. `git archive <commit> | tar -x -C DIR`, with
`.venv` linked into it). The two checkouts take turns, `--runs` times each, before first:
each turn is one `scripts.bench.hotpath --no-profile` run of that checkout (its own private
MariaDB and Redis, the bare auth app in the same interpreter, interleaved). Each run's ratio
to its own bare app is what is compared: a machine that gets busier between turns moves both
sides of a ratio. Prints every run's create and read ratios (wall p50 and CPU p50 ÷ the bare
auth app), the median of each side and the after ÷ before of the medians, and the load
average before and after. A measurement, not a test: always exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: A row of hotpath's warm table: label, p50, p90, p99, p50 ÷ bare auth, …, CPU ÷ bare auth.
_ROW = re.compile(r"^\| (?P<label>[^|]+?) \| (?P<cells>.*) \|$")
LABELS = {"create": "POST /v1/tasks", "read": "GET /v1/tasks/{id}"}


def ratios(output: str) -> dict[str, tuple[float, float, float]]:
    """{request: (wall p50 µs, wall p50 ÷ bare auth, CPU p50 ÷ bare auth)} of one run."""
    found = {}
    for line in output.splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        for name, label in LABELS.items():
            if match["label"] == label and name not in found:
                cells = [cell.strip() for cell in match["cells"].split("|")]
                p50 = float(cells[0].split()[0])
                found[name] = (p50, float(cells[3].rstrip("×")), float(cells[-1].rstrip("×")))
    return found


def run(tree: Path, args: argparse.Namespace) -> dict[str, tuple[float, float, float]]:
    command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "scripts.bench.hotpath"]
    command += ["--no-profile", "--warm-calls", str(args.warm_calls)]
    command += ["--warm-rounds", str(args.warm_rounds), "--warmup", str(args.warmup)]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, cwd=tree, capture_output=True, text=True, check=True, timeout=1800
    )
    return ratios(done.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side, alternating")
    parser.add_argument("--warm-calls", type=int, default=1200)
    parser.add_argument("--warm-rounds", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args(argv)
    sides = {"before": args.before.resolve(), "after": ROOT}
    results: dict[str, list[dict[str, tuple[float, float, float]]]] = {s: [] for s in sides}
    load_before = os.getloadavg()
    for turn in range(args.runs):
        for side, tree in sides.items():
            print(f"run {turn + 1}/{args.runs}: {side} …", file=sys.stderr)
            results[side].append(run(tree, args))
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print("")
    print("| side | run | create p50 | create ÷ bare | create CPU ÷ bare | read ÷ bare |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for side, runs in results.items():
        for number, found in enumerate(runs, 1):
            p50, wall, cpu = found["create"]
            read = found["read"][1]
            print(f"| {side} | {number} | {p50:.0f} µs | {wall:.2f}× | {cpu:.2f}× | {read:.2f}× |")
    print("")
    medians = {
        side: [statistics.median(found["create"][i] for found in runs) for i in range(3)]
        for side, runs in results.items()
    }
    for index, name in (
        (0, "create p50 (µs)"),
        (1, "create ÷ bare, wall"),
        (2, "create ÷ bare, CPU"),
    ):
        before, after = medians["before"][index], medians["after"][index]
        print(
            f"median {name}: before {before:.2f}, after {after:.2f}, "
            f"after ÷ before {after / before:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
