"""The regression guard: the smoke benchmark's ratios against the committed baseline.

`scripts/bench/smoke.py` measures each ratio side by side with its bare app in one run (median
of interleaved rounds), so both sides share the machine's noise; a ratio more than
`ALLOWED_REGRESSION` times its baseline (tests/bench_smoke/baseline.json) fails the run. A
change that makes a ratio better should lower its baseline in the same commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.local_runtime import clean_environment

ROOT = Path(__file__).resolve().parents[2]
BASELINE = Path(__file__).with_name("baseline.json")
ALLOWED_REGRESSION = 1.5

pytestmark = pytest.mark.integration


def regressions(measured: dict[str, float], baseline: dict[str, float]) -> dict[str, str]:
    """Each ratio over its bound, or missing from `measured`, with what was seen."""
    found = {}
    for name, base in baseline.items():
        seen = measured.get(name)
        if seen is None or seen > base * ALLOWED_REGRESSION:
            found[name] = f"{seen} > {base} x {ALLOWED_REGRESSION}"
    return found


def test_the_guard_flags_a_doubled_ratio_and_passes_a_noisy_one() -> None:
    baseline = {"tasks_read_warm": 2.0, "health_cold": 1.2}

    assert regressions({"tasks_read_warm": 4.0, "health_cold": 1.2}, baseline) == {
        "tasks_read_warm": "4.0 > 2.0 x 1.5"
    }
    assert regressions({"tasks_read_warm": 2.9, "health_cold": 1.0}, baseline) == {}
    assert list(regressions({"health_cold": 1.2}, baseline)) == ["tasks_read_warm"]


def test_no_ratio_regressed_more_than_one_and_a_half_times(tmp_path: Path) -> None:
    # GIVEN the committed baseline
    baseline = json.loads(BASELINE.read_text())

    # WHEN the smoke benchmark runs
    result = tmp_path / "ratios.json"
    completed = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-m", "scripts.bench.smoke", "--json", str(result)],
        cwd=ROOT,
        env={**clean_environment(), "PYTHONPATH": f"{ROOT / 'layers' / 'retouch'}:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]

    # THEN every ratio is within 1.5x its baseline
    measured = json.loads(result.read_text())
    assert regressions(measured, baseline) == {}, measured
