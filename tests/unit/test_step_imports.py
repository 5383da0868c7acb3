"""Cold start of the step functions (docs/performance.md, issue 6: ≤ 2× a bare Powertools
batch handler): what importing a step's `app.py` must not load.

- Powertools' batch utility comes before pydantic (`retouch.bootstrap.steps`): imported after
  it, the utility also builds its pydantic parser models (`aws_lambda_powertools.utilities.
  parser`), ≈ 30 ms that batch processing without a `model` never uses.
- What a step never needs at import: the API's task models (`retouch.tasks.schemas`; the
  engine reads `retouch.tasks.records`), the credits (`retouch.quota`, imported by the one
  ending that settles them), tokens (PyJWT, `retouch.core.security`), the web stack, OpenCV
  (imported by `prepare`'s first normalisation) and the cloud SDKs (imported by the adapters
  on first use; Powertools' logger loads the bare `botocore` package only).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.conftest import UNIT_ENV
from tests.unit.processes import Command, Started, declare

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("prepare", "generate", "store", "finalize")
FORBIDDEN = (
    "aws_lambda_powertools.utilities.parser",
    "retouch.tasks.schemas",
    "retouch.quota",
    "retouch.core.security",
    "jwt",
    "fastapi",
    "starlette",
    "mangum",
    "cv2",
    "boto3",
    "botocore.client",
    "qcloud_cos",
    "tencentcloud",
)

# Imports the entry file by path, as the Lambda runtime imports `app.py`, then the batch
# utility as the first event does (`process_batch`); prints the modules.
CHECK = (
    "import importlib.util, json, sys; "
    "spec = importlib.util.spec_from_file_location('app', sys.argv[1]); "
    "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
    "assert callable(module.handler) and callable(module.main_handler); "
    "import aws_lambda_powertools.utilities.batch; "
    "print(json.dumps(sorted(sys.modules)))"
)


def _check(step: str) -> Callable[[Path], Command]:
    app = ROOT / "functions" / "steps" / step / "app.py"
    environment = {**UNIT_ENV, "PYTHONPATH": str(ROOT / "layers" / "retouch")}
    return lambda _: Command(
        args=[sys.executable, "-c", CHECK, str(app)], env=environment, cwd=ROOT
    )


for _step in STEPS:  # one fresh interpreter per step, run beside the other tests
    declare(f"step-imports:{_step}", _check(_step), module=__name__)


def loaded_by(background: Started, step: str) -> set[str]:
    result = background.result(f"step-imports:{step}")
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


@pytest.mark.parametrize("step", STEPS)
def test_a_step_function_loads_the_batch_utility_without_its_parser_models(
    background: Started, step: str
) -> None:
    modules = loaded_by(background, step)

    assert "pydantic" in modules  # the settings' model: the order is what matters
    unwanted = sorted(
        name
        for name in modules
        if any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN)
    )
    assert unwanted == []
