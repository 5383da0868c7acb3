"""Benchmark: the instructions an API function's import executes, beside the bare app's.

    .venv/bin/python -m scripts.bench.coldstart_instructions [--before PATH] \
        [--only health tasks ...]

On a machine shared with other work the wall clock of a cold start moves by ±20 % between
runs of the same code (docs/performance.md); the number of instructions does not. Each figure
is one run under valgrind's callgrind (`Collected`, in millions; valgrind must be installed):
a fresh interpreter of the benchmark runtime (scripts/bench/coldstart.py, the layer's lock)
importing the function's `app.py` and, where its app still includes routers (an earlier
tree), building their routes as FastAPI does at the first request; the bare side imports
tests/bench/bare_app.py, as is and with the cyclic collector off while it loads and frozen
after (what `core/coldstart.py` does for ours). With `--before PATH` (a checkout of an earlier
commit) the same is measured on that tree. The first request itself needs the servers and is
left to scripts/bench/coldstart.py. Each run takes about 25 s; two run at once.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scripts.bench.coldstart import runtime_python

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ("health", "uploads", "callbacks", "auth", "tasks", "users", "admin", "catalog")
ROUTES_AGAIN = (
    "from fastapi.routing import _IncludedRouter\n"
    "from retouch.http.routing import without_pydantic_v1\n"
    "with without_pydantic_v1():\n"
    "    for route in app.app.router.routes:\n"
    "        if isinstance(route, _IncludedRouter):\n"
    "            route.effective_candidates()\n"
)
BARE = "import tests.bench.bare_app\n"
BARE_FROZEN = "import gc\ngc.disable()\nimport tests.bench.bare_app\ngc.freeze()\ngc.enable()\n"


def instructions(python: str, code: str, cwd: Path, tree: Path) -> float:
    """Millions of instructions of one interpreter running `code` in `cwd` (after one plain
    run, which writes the `.pyc` files)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = f"{tree / 'layers' / 'retouch'}:{tree}"
    subprocess.run([python, "-c", code], cwd=cwd, env=env, check=True, capture_output=True)  # noqa: S603
    measured = subprocess.run(  # noqa: S603 - our runtime and our code
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, "-c", code],  # noqa: S607
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", measured.stderr)
    if found is None:
        raise RuntimeError(measured.stderr[-2000:])
    return int(found[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of an earlier commit")
    parser.add_argument("--only", nargs="+", default=list(FUNCTIONS), choices=FUNCTIONS)
    arguments = parser.parse_args()
    python = runtime_python(())
    trees = {"ours": ROOT, **({"before": arguments.before} if arguments.before else {})}
    with ThreadPoolExecutor(2) as pool:
        bare = pool.submit(instructions, python, BARE, ROOT, ROOT)
        bare_frozen = pool.submit(instructions, python, BARE_FROZEN, ROOT, ROOT)
        runs = {
            (name, side): pool.submit(
                instructions,
                python,
                "import app\n" + ROUTES_AGAIN,
                tree / "functions" / "http" / name,
                tree,
            )
            for name in arguments.only
            for side, tree in trees.items()
        }
        print(
            f"bare app: {bare.result():,.0f} M; collector off, then frozen: "
            f"{bare_frozen.result():,.0f} M"
        )
        print(
            "| function | "
            + " | ".join(f"{side} (M)" for side in trees)
            + " | ours ÷ bare "
            + ("| before ÷ bare | ours ÷ before |" if "before" in trees else "|")
        )
        print("| --- |" + " ---: |" * (len(trees) + (3 if "before" in trees else 1)))
        for name in arguments.only:
            ours = runs[(name, "ours")].result()
            cells = [f"{runs[(name, side)].result():,.0f}" for side in trees]
            cells.append(f"{ours / bare.result():.2f}×")
            if "before" in trees:
                before = runs[(name, "before")].result()
                cells += [f"{before / bare.result():.2f}×", f"{ours / before:.3f}×"]
            print(f"| http/{name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
