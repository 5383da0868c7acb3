"""Benchmark: the generate step's artefact before and after its pruning, side by side in one run.

    .venv/bin/python -m scripts.bench.step_size [--runs 20] [--before d8ca3ae]

Builds `GenerateStepFunction` twice with functions/steps/Makefile, as `sam build` does, into a
temporary folder: with the Makefile of git revision `--before` and with the checkout's (OpenCV's
FFmpeg as stubs, one Haar cascade, numpy without its build files: functions/steps/Makefile).
The layer is layers/retouch's source plus its pinned dependencies installed for CPython 3.12
(manylinux wheels), the same for both sides. Then N fresh CPython 3.12 interpreters per side,
alternating which goes first; each (tests/bench/step_cold.py) imports the step's `app.py` by
path and does the step's first OpenCV work on a sample picture (the local provider's `cutout`:
numpy and OpenCV load, decode, GrabCut, encode). Nothing connects to a database: the work the
two artefacts differ in is loading OpenCV and running it.

Reported per side: the artefact's size unzipped (+ the layer's), and the median and p90 of the
whole process (spawn to exit, parent clock), the interpreter's start, the import of `app.py`
and the first call. Prints a table, always exits 0: a measurement, not a test. Results are in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.bench.health import LAYER, ROOT, percentile

STEPS = ROOT / "functions" / "steps"
CHILD = ROOT / "tests" / "bench" / "step_cold.py"
TARGET = "build-GenerateStepFunction"
SIDES = ("before", "after")
MB = 1_000_000
#: What the settings need to load; the child never connects anywhere.
CHILD_ENV = {
    "RETOUCH_STAGE": "local",
    "RETOUCH_DB_HOST": "127.0.0.1",
    "RETOUCH_DB_USER": "bench",
    "RETOUCH_DB_NAME": "bench",
    "RETOUCH_REDIS_URL": "redis://127.0.0.1:9/0",
    "RETOUCH_JWT_KEYS": json.dumps({"bench": "b" * 43}),
}


def python_312() -> str:
    """CPython 3.12, Lambda's Python: pyenv's build first, then PATH."""
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3")))
    python = next(iter(found), None) or shutil.which("python3.12")
    if not python:
        sys.exit("CPython 3.12 is needed (pyenv install 3.12)")
    return python


def _size(folder: Path) -> int:
    files = (path for path in folder.rglob("*") if "__pycache__" not in path.parts)
    return sum(path.stat().st_size for path in files if path.is_file())


def build(side: str, revision: str, work: Path, python: str) -> Path:
    """The step built by the Makefile of `revision` (`after`: the checkout's) into work/side."""
    source, artefact = work / f"{side}-steps", work / side
    shutil.copytree(STEPS, source)
    if side == "before":
        makefile = subprocess.run(  # noqa: S603 - git, fixed arguments
            ["git", "show", f"{revision}:functions/steps/Makefile"],  # noqa: S607
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (source / "Makefile").write_text(makefile)
    subprocess.run(  # noqa: S603 - make, fixed arguments
        ["make", "--silent", TARGET, f"ARTIFACTS_DIR={artefact}", f"PYTHON={python}"],  # noqa: S607
        cwd=source, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return artefact


def layer(work: Path, python: str) -> Path:
    """The layer's pinned dependencies for CPython 3.12 (the source of `retouch` beside it)."""
    target = work / "layer"
    subprocess.run(  # noqa: S603 - pip, fixed arguments
        [python, "-m", "pip", "install", "--quiet", "--no-compile", "--only-binary=:all:",
         "--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version",
         "3.12", "--target", str(target), "-r", str(LAYER / "requirements.txt")],
        check=True,
    )  # fmt: skip
    return target


def picture(work: Path) -> Path:
    """The local provider's sample product picture, as PNG."""
    sys.path.insert(0, str(LAYER))  # the layer's source, as the child has it
    from retouch.providers.local.samples import sample_images

    path = work / "product.png"
    path.write_bytes(sample_images()["product"])
    return path


def cold_start(
    python: str, artefact: Path, deps: Path, sample: Path, work: Path
) -> dict[str, float]:
    result = work / "cold.json"
    path = os.pathsep.join(map(str, (artefact, LAYER, deps)))
    # No bytecode written: Lambda's code folder is read-only and the build ships none.
    env = {
        **CHILD_ENV,
        "PYTHONPATH": path,
        "PATH": os.environ["PATH"],
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    args = [python, str(CHILD), str(artefact / "app.py"), str(sample), str(result)]
    spawned = time.monotonic_ns()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    ended = time.monotonic_ns()
    found = json.loads(result.read_text())
    return {
        "process": (ended - spawned) / 1e6,
        "interpreter": (found["started_ns"] - spawned) / 1e6,
        "import": found["import_ns"] / 1e6,
        "first call": found["first_call_ns"] / 1e6,
    }


def report(samples: dict[str, list[dict[str, float]]], sizes: dict[str, int], runs: int) -> str:
    lines = [
        f"generate step, CPython 3.12, {runs} fresh interpreters per side, alternating",
        "| | before | after | after/before |",
        "|---|---|---|---|",
    ]
    before, after = (sizes[side] / MB for side in SIDES)
    lines.append(
        f"| unzipped, step + layer (MB) | {before:.1f} | {after:.1f} | {after / before:.2f}× |"
    )
    for phase in ("process", "interpreter", "import", "first call"):
        for label, q in (("p50", 50.0), ("p90", 90.0)):
            one, two = (percentile([s[phase] for s in samples[side]], q) for side in SIDES)
            lines.append(f"| {phase} {label} (ms) | {one:.1f} | {two:.1f} | {two / one:.2f}× |")
    spread = {side: statistics.pstdev(s["process"] for s in samples[side]) for side in SIDES}
    lines.append(f"process σ: before {spread['before']:.1f} ms, after {spread['after']:.1f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="fresh interpreters per side")
    parser.add_argument("--before", default="d8ca3ae", help="git revision of the old Makefile")
    args = parser.parse_args()
    python = python_312()
    with tempfile.TemporaryDirectory(prefix="step-size-") as folder:
        work = Path(folder)
        print("building both artefacts and the layer's dependencies …", file=sys.stderr)
        built = {side: build(side, args.before, work, python) for side in SIDES}
        deps, sample = layer(work, python), picture(work)
        layer_size = _size(deps) + _size(LAYER / "retouch")
        sizes = {side: _size(built[side]) + layer_size for side in SIDES}
        for side in SIDES:  # discarded: the page cache holds both artefacts from here on
            cold_start(python, built[side], deps, sample, work)
        samples: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
        for run in range(args.runs):
            for side in SIDES if run % 2 == 0 else SIDES[::-1]:
                samples[side].append(cold_start(python, built[side], deps, sample, work))
    print(report(samples, sizes, args.runs))


if __name__ == "__main__":
    main()
