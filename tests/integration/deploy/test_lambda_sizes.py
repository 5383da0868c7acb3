"""`sam build` of template.yaml, as a deploy runs it (the SAM CLI of .venv-iac, scripts/setup),
and the size of each artefact: every function plus the layer stays under its budget
(docs/performance.md), the OpenCV steps come out pruned, and the pruned OpenCV and numpy compute
on CPython 3.12, Lambda's Python, exactly the pixels the untouched wheels compute."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.local.lambda_runtime import ROOT
from scripts.local.sam import TEMPLATE, read_yaml

pytestmark = pytest.mark.integration

MB = 1_000_000
#: Lambda refuses a function whose code and layers exceed this, unzipped.
LAMBDA_UNZIPPED_LIMIT = 250 * MB
#: The OpenCV steps + the layer: `sam build` gives 194.1 MB for generate (168.0 MB + the layer's
#: 26.1 MB; 236.1 MB before FFmpeg, the unused Haar cascades and numpy's build files went,
#: docs/performance.md).
OPENCV_BUDGET = 200 * MB
#: Every other function ships its folder and the layer (26.1 MB).
PLAIN_BUDGET = 40 * MB
OPENCV_STEPS = ("PrepareStepFunction", "GenerateStepFunction")
LAMBDA_PYTHON = "3.12"
#: Run by path in a child interpreter: the steps' OpenCV work, as digests.
PROBE = Path(__file__).with_name("step_probe.py")
#: What the settings need to load (the probe never connects anywhere).
PROBE_ENV = {
    "RETOUCH_STAGE": "test",
    "RETOUCH_DB_HOST": "127.0.0.1",
    "RETOUCH_DB_USER": "probe",
    "RETOUCH_DB_NAME": "probe",
    "RETOUCH_REDIS_URL": "redis://127.0.0.1:9/0",
    "RETOUCH_JWT_KEYS": '{"probe": "probe-signing-key-0123456789abcdef"}',
}
#: OpenCV's video I/O: stubs in the built steps (functions/steps/video_stubs.py).
VIDEO_STUBS = ("libavcodec-", "libavformat-", "libavutil-", "libswscale-")
#: What only FFmpeg loaded: gone from the built steps.
VIDEO_ONLY = ("libswresample-", "libvpx-", "libdav1d-", "libssl-", "libcrypto-", "libdrm-")


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


def _probe(python: Path, path: list[Path]) -> dict[str, Any]:
    env = {**PROBE_ENV, "PYTHONPATH": os.pathsep.join(map(str, path)), "PATH": os.environ["PATH"]}
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [str(python), str(PROBE)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
    found: dict[str, Any] = json.loads(result.stdout)
    return found


@pytest.mark.parametrize("logical_id", OPENCV_STEPS)
def test_opencv_step_is_pruned(built: Path, logical_id: str) -> None:
    # GIVEN the step as `sam build` left it
    code = built / logical_id
    libraries = {path.name: path for path in (code / "opencv_python_headless.libs").iterdir()}

    # THEN nothing pruned is left: no tests, stubs or bytecode of the build machine's Python,
    # numpy's headers and f2py, the Haar cascades the local provider never loads
    assert (code / "app.py").is_file() and (code / "cv2").is_dir()
    assert not list(code.rglob("__pycache__")) and not list(code.rglob("*.pyi"))
    assert not list((code / "numpy").rglob("tests")) and not list(code.rglob("*_tests.*.so"))
    assert not (code / "numpy" / "_core" / "include").exists()
    assert not (code / "numpy" / "f2py").exists()
    cascades = sorted(path.name for path in (code / "cv2" / "data").glob("*.xml"))
    assert cascades == ["haarcascade_frontalface_default.xml"]
    # AND OpenCV's FFmpeg is four small stubs, and what only FFmpeg needed is gone
    stubs = [path for name, path in libraries.items() if name.startswith(VIDEO_STUBS)]
    assert len(stubs) == len(VIDEO_STUBS) and all(p.stat().st_size < 50_000 for p in stubs)
    assert not [name for name in libraries if name.startswith(VIDEO_ONLY)]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """The probe in this checkout's environment: the same OpenCV and numpy pins, whole."""
    return _probe(Path(sys.executable), [ROOT / "layers" / "retouch"])


@pytest.mark.parametrize("logical_id", OPENCV_STEPS)
def test_opencv_step_computes_what_the_untouched_wheels_compute(
    built: Path, reference: dict[str, Any], logical_id: str
) -> None:
    # GIVEN the built step and the built layer on CPython 3.12, as Lambda loads them
    code, layer = built / logical_id, built / "RetouchLayer" / "python"

    # WHEN the steps' OpenCV work runs there
    ours = _probe(_python_312(), [code, layer])

    # THEN it ran from the artefact, and every picture, feature and normalisation is the same
    # as in this checkout's environment
    assert ours["python"] == LAMBDA_PYTHON and ours["cv2"].startswith(str(code))
    assert len(ours["digests"]) >= 10
    assert ours["digests"] == reference["digests"]


def test_opencv_video_io_traps_in_the_built_step(built: Path) -> None:
    # GIVEN the built generate step on CPython 3.12
    code = built / "GenerateStepFunction"
    probe = "import cv2; cv2.VideoCapture('clip.mp4', cv2.CAP_FFMPEG)"

    # WHEN something opened a video through FFmpeg (nothing of ours does)
    env = {"PYTHONPATH": str(code), "PATH": os.environ["PATH"]}
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [str(_python_312()), "-c", probe], env=env, capture_output=True, check=False
    )

    # THEN the stub ends the process at once: no FFmpeg code is there to run
    assert result.returncode == -signal.SIGILL, result.stderr[-2000:]
