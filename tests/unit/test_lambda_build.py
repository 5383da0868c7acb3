"""The template as the cloud would take it, checked offline: cfn-lint with its informational
rules too, Lambda's runtime (one AWS still creates, the layer's), and the `makefile` builds that
keep the OpenCV steps under Lambda's size limit (built for real in
tests/integration/deploy/test_lambda_sizes.py)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from retouch.providers.local.faces import FACE_CASCADE
from scripts.local.lambda_runtime import ROOT
from scripts.local.sam import TEMPLATE, read_yaml
from tests.unit.processes import Command, Started, declare

#: The Python Lambda runs (docs/runtimes.md): 3.12+ has SnapStart; 3.11 is deprecated.
LAMBDA_RUNTIME = "python3.12"

# What `cfnlint.api.lint_file` reports with the informational (I) rules included, one a line.
CFN_LINT_INFORMATIONAL = (
    "import sys; from pathlib import Path; from cfnlint.api import ManualArgs, lint_file; "
    "matches = lint_file(Path(sys.argv[1]), config=ManualArgs(include_checks=['I'])); "
    "print(*matches, sep='\\n', end=''); sys.exit(bool(matches))"
)

declare(
    "cfn-lint:informational",
    lambda _: Command(
        args=[sys.executable, "-c", CFN_LINT_INFORMATIONAL, str(TEMPLATE)],
        env=os.environ,
        cwd=ROOT,
    ),
    module=__name__,
)


#: OpenCV's video I/O, whose FFmpeg the built steps replace with traps (video_stubs.py).
VIDEO_IO = re.compile(r"cv2\.(VideoCapture|VideoWriter|videoio|CAP_|VIDEOWRITER_)")


def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = read_yaml(TEMPLATE)["Resources"]
    return resources


def test_template_passes_cfn_lint_with_informational_rules(background: Started) -> None:
    # GIVEN the SAM template WHEN cfn-lint checks it with the informational rules included
    result = background.result("cfn-lint:informational")

    # THEN it reports nothing, not even an I-rule
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_functions_and_layer_run_the_supported_runtime() -> None:
    # GIVEN the template's function defaults and the shared layer
    template = read_yaml(TEMPLATE)
    layer = template["Resources"]["RetouchLayer"]

    # THEN every function runs python3.12, which the layer declares and is built for
    assert template["Globals"]["Function"]["Runtime"] == LAMBDA_RUNTIME
    assert not [
        name
        for name, resource in _resources().items()
        if resource["Type"] == "AWS::Serverless::Function"
        and resource["Properties"].get("Runtime", LAMBDA_RUNTIME) != LAMBDA_RUNTIME
    ]
    assert layer["Properties"]["CompatibleRuntimes"] == [LAMBDA_RUNTIME]
    assert layer["Metadata"]["BuildMethod"] == LAMBDA_RUNTIME


@pytest.mark.parametrize("logical_id", ["PrepareStepFunction", "GenerateStepFunction"])
def test_opencv_steps_build_with_their_makefile_for_the_runtime(logical_id: str) -> None:
    # GIVEN a step that installs OpenCV and numpy
    resource = _resources()[logical_id]
    code = Path(resource["Properties"]["CodeUri"])

    # THEN SAM builds it with the steps' Makefile, from the folder that holds the step's code
    assert resource["Metadata"] == {
        "BuildMethod": "makefile",
        "ContextPath": f"{code.parent}/",
        "ProjectRootDirectory": f"{code.parent}/",
    }
    # AND the Makefile has the target SAM calls, for the step's folder, installs wheels for the
    # runtime's Python and prunes and strips the result
    text = (ROOT / code.parent / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^build-{logical_id}: STEP = {code.name}$", text, re.MULTILINE)
    assert re.search(rf"^(build-\w+ )*build-{logical_id}( build-\w+)*:$", text, re.MULTILINE)
    assert f"LAMBDA_PYTHON ?= {LAMBDA_RUNTIME.removeprefix('python')}\n" in text
    assert "--only-binary=:all:" in text and "--no-compile" in text
    assert "strip --strip-unneeded" in text and "-name '*.pyi'" in text
    # AND it swaps OpenCV's FFmpeg for stubs and keeps only the Haar cascade we load
    assert '$(PYTHON) video_stubs.py "$(ARTIFACTS_DIR)"' in text
    assert (ROOT / code.parent / "video_stubs.py").is_file()
    assert f"FACE_CASCADE = {FACE_CASCADE}\n" in text


def test_every_makefile_build_has_a_makefile() -> None:
    # GIVEN the functions SAM builds with `make`
    built = {
        name: ROOT / resource["Metadata"].get("ContextPath", resource["Properties"]["CodeUri"])
        for name, resource in _resources().items()
        if resource.get("Metadata", {}).get("BuildMethod") == "makefile"
    }

    # THEN each has its Makefile with the target SAM calls (else `sam build` stops)
    assert built
    for name, folder in built.items():
        text = (folder / "Makefile").read_text(encoding="utf-8")
        assert re.search(rf"^(build-\w+ )*build-{name}( build-\w+)*:$", text, re.MULTILINE)


def test_no_code_of_ours_uses_opencv_video_io() -> None:
    # GIVEN every Python file the functions load: their own and the layer's
    stubs = ROOT / "functions" / "steps" / "video_stubs.py"
    files = [*(ROOT / "layers" / "retouch").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]

    # THEN none reaches OpenCV's video I/O: in the built steps it is stubs that end the process
    users = [
        str(path.relative_to(ROOT))
        for path in files
        if path != stubs and VIDEO_IO.search(path.read_text(encoding="utf-8"))
    ]
    assert len(files) > 50 and users == []
