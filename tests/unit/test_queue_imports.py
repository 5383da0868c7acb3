"""Cold-start cost: the queue package and the process's queue load no cloud SDK before a
message is sent (boto3 and the Tencent SDK are imported by the adapters on first use)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.unit.conftest import UNIT_ENV

# Powertools' logger imports the bare `botocore` package (its __init__, ~0.4 ms) to see whether
# it may add a user-agent hook; the client machinery (`botocore.*`), boto3 and the Tencent SDK
# must wait for the first message.
CHECK = (
    "import sys; import retouch.queue; from retouch.queue import get_queue; get_queue(); "
    "loaded = sorted(name for name in sys.modules "
    "if name.split('.')[0] in ('boto3', 'tencentcloud') or name.startswith('botocore.')); "
    "print(' '.join(loaded)); sys.exit(bool(loaded))"
)


@pytest.mark.parametrize("backend", ["redis", "sqs", "cmq"])
def test_the_queue_package_and_its_adapter_import_no_cloud_sdk(backend: str) -> None:
    environment = {
        **UNIT_ENV,
        "PYTHONPATH": "layers/retouch",
        "RETOUCH_QUEUE_BACKEND": backend,
        "RETOUCH_QUEUE_TDMQ_REGION": "ap-guangzhou",
    }

    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", CHECK], env=environment, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
