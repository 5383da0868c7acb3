"""The layer's import rules (`[tool.importlinter]` in pyproject.toml) hold: a change that
makes a package import one above it, or two packages of one layer import each other, fails
here with the import chain that breaks the rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_imports_follow_the_layers() -> None:
    # A process of its own: import-linter sets up logging, which the log tests of this
    # process must not inherit.
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(  # noqa: S603 - our own venv's script, fixed arguments
        [str(linter), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "layers" / "retouch")},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
