"""Child process of scripts/bench/step_size.py: one cold start of a built OpenCV step.

Run by path with the built step and the layer on PYTHONPATH, never imported:

    python tests/bench/step_cold.py APP_FILE PICTURE_FILE RESULT_FILE

Imports the step's `app.py` by path, as the Lambda runtime does, then does the step's first
OpenCV work on a sample picture: the local provider's `cutout` (numpy and OpenCV load here,
then decode, GrabCut, encode). Only the standard library loads before the timed import.
Results go to RESULT_FILE as JSON (`time.monotonic_ns()`, shared with the parent).
"""

from __future__ import annotations

import time

STARTED_NS = time.monotonic_ns()  # the child's first statement: its own clock starts here

import importlib.util  # noqa: E402 - deliberately after the start timestamp
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def main(app_file: str, picture_file: str, result_file: str) -> None:
    picture = Path(picture_file).read_bytes()
    before_import = time.monotonic_ns()
    spec = importlib.util.spec_from_file_location("app", app_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    imported = time.monotonic_ns()
    from retouch.providers.local.algorithms import run

    result = run("cutout", {"image": picture}, {})
    done = time.monotonic_ns()
    assert result.startswith(b"\x89PNG")
    timings = {"started_ns": STARTED_NS, "import_ns": imported - before_import}
    Path(result_file).write_text(json.dumps({**timings, "first_call_ns": done - imported}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
