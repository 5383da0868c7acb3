"""Cold-start cost: the queue package and the process's queue load no cloud SDK before a
message is sent (boto3 and the Tencent SDK are imported by the adapters on first use)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.conftest import UNIT_ENV
from tests.unit.processes import Command, Started, declare

ROOT = Path(__file__).resolve().parents[2]

# Powertools' logger imports the bare `botocore` package (its __init__, ~0.4 ms) to see whether
# it may add a user-agent hook; the client machinery (`botocore.*`), boto3 and the Tencent SDK
# must wait for the first message.
CHECK = (
    "import sys; import retouch.queue; from retouch.queue import get_queue; get_queue(); "
    "loaded = sorted(name for name in sys.modules "
    "if name.split('.')[0] in ('boto3', 'tencentcloud') or name.startswith('botocore.')); "
    "print(' '.join(loaded)); sys.exit(bool(loaded))"
)


BACKENDS = ("redis", "sqs", "cmq")


def _check(backend: str) -> Callable[[Path], Command]:
    environment = {
        **UNIT_ENV,
        "PYTHONPATH": "layers/retouch",
        "RETOUCH_QUEUE_BACKEND": backend,
        "RETOUCH_QUEUE_TDMQ_REGION": "ap-guangzhou",
    }
    return lambda _: Command(args=[sys.executable, "-c", CHECK], env=environment, cwd=ROOT)


for _backend in BACKENDS:  # one fresh interpreter per backend, run beside the other tests
    declare(f"queue-imports:{_backend}", _check(_backend), module=__name__)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_queue_package_and_its_adapter_import_no_cloud_sdk(
    background: Started, backend: str
) -> None:
    result = background.result(f"queue-imports:{backend}")

    assert result.returncode == 0, result.stdout + result.stderr
