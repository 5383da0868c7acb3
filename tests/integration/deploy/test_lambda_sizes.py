"""`sam build` of template.yaml, as a deploy runs it (the SAM CLI of .venv-iac, scripts/setup),
and the size of each artefact: every function plus the layer stays under its budget
(docs/performance.md), the OpenCV steps come out pruned, and their stripped OpenCV and numpy
still import and compute on CPython 3.12, Lambda's Python."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts.local.lambda_runtime import ROOT
from scripts.local.sam import TEMPLATE, read_yaml

pytestmark = pytest.mark.integration

MB = 1_000_000
#: Lambda refuses a function whose code and layers exceed this, unzipped.
LAMBDA_UNZIPPED_LIMIT = 250 * MB
#: The OpenCV steps + the layer: `sam build` gives 236.1 MB for generate (docs/performance.md).
OPENCV_BUDGET = 240 * MB
#: Every other function ships its folder and the layer (26.1 MB).
PLAIN_BUDGET = 40 * MB
OPENCV_STEPS = ("PrepareStepFunction", "GenerateStepFunction")
LAMBDA_PYTHON = "3.12"


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _python_312() -> Path:
    """CPython 3.12: pyenv's build first (its `python3.12` shim may point nowhere), then PATH."""
    pattern = os.path.expanduser(f"~/.pyenv/versions/{LAMBDA_PYTHON}*/bin/python3")
    found = next(iter(sorted(glob.glob(pattern))), None) or shutil.which(f"python{LAMBDA_PYTHON}")
    assert found, f"CPython {LAMBDA_PYTHON} is needed to build for Lambda (pyenv install)"
    return Path(found)


def _functions() -> dict[str, Any]:
    resources: dict[str, Any] = read_yaml(TEMPLATE)["Resources"]
    return {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of the whole template into a folder of its own (~30 s); SAM's python3.12
    builder and the steps' Makefile find CPython 3.12 first on PATH."""
    sam = os.environ.get("SAM") or shutil.which("sam", path=str(ROOT / ".venv-iac" / "bin"))
    assert sam, "the SAM CLI is missing: run scripts/setup (.venv-iac), or set SAM"
    build = tmp_path_factory.mktemp("sam-build")
    path = f"{_python_312().parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "SAM_CLI_TELEMETRY": "0"}
    args = [sam, "build", "--template", str(TEMPLATE), "--build-dir", str(build)]
    result = subprocess.run(  # noqa: S603 - the SAM CLI, fixed arguments
        args, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return build


def test_every_function_and_the_layer_fit_their_budget(built: Path) -> None:
    # GIVEN every function SAM built and the layer each one loads
    layer = _size(built / "RetouchLayer")
    sizes = {name: _size(built / name) + layer for name in _functions()}

    # THEN the OpenCV steps stay under theirs, well under Lambda's limit, and the rest under
    # theirs (none installs packages of its own)
    assert set(OPENCV_STEPS) <= set(sizes)
    assert max(sizes[name] for name in OPENCV_STEPS) <= OPENCV_BUDGET < LAMBDA_UNZIPPED_LIMIT, {
        name: round(sizes[name] / MB, 1) for name in OPENCV_STEPS
    }
    plain = {name: size for name, size in sizes.items() if name not in OPENCV_STEPS}
    assert max(plain.values()) <= PLAIN_BUDGET, plain


@pytest.mark.parametrize("logical_id", OPENCV_STEPS)
def test_opencv_step_is_pruned_and_still_runs_on_python_3_12(built: Path, logical_id: str) -> None:
    # GIVEN the step as `sam build` left it
    code = built / logical_id

    # THEN nothing pruned is left: no tests, stubs or bytecode of the build machine's Python
    assert (code / "app.py").is_file() and (code / "cv2").is_dir()
    assert not list(code.rglob("__pycache__")) and not list(code.rglob("*.pyi"))
    assert not list((code / "numpy").rglob("tests"))
    # AND the stripped OpenCV and numpy still load and compute on CPython 3.12
    probe = (
        "import sys, cv2, numpy; image = numpy.full((8, 8, 3), 200, numpy.uint8); "
        "ok, data = cv2.imencode('.png', cv2.resize(image, (4, 4))); "
        "print(sys.version_info[:2], ok, cv2.imdecode(data, cv2.IMREAD_COLOR).shape)"
    )
    env = {"PYTHONPATH": f"{code}:{built / 'RetouchLayer' / 'python'}", "PATH": os.environ["PATH"]}
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [str(_python_312()), "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "(3, 12) True (4, 4, 3)"), (
        result.stderr
    )
