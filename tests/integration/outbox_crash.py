"""A process that dies between commit and publish: it creates a task through the real use
case with a queue whose `publish` kills the process (SIGKILL, no clean-up of any kind).

    python -m tests.integration.outbox_crash <access-token> <feature> <inputs-json>

The database and Redis come from the RETOUCH_* environment, as in any function.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from retouch.caller.service import authenticate
from retouch.core.db import get_database
from retouch.core.security import TokenConfig
from retouch.core.settings import get_settings
from retouch.tasks.schemas import TaskCreate
from retouch.tasks.service import create_task
from tests.integration.pipeline_support import MemoryQueue


class DyingQueue(MemoryQueue):
    """A QueuePort whose publisher process is killed the moment it would publish."""

    def publish(self, queue: str, body: dict[str, Any], *, delay_s: float = 0) -> str:
        sys.stdout.write(f"committed; dying before publishing to {queue}\n")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


def main(token: str, feature: str, inputs: str) -> None:
    settings = get_settings()
    database = get_database()
    principal = authenticate(
        database=database, config=TokenConfig.from_settings(settings), access_token=token
    )
    create_task(
        database=database,
        queue=DyingQueue(),
        settings=settings,
        principal=principal,
        request=TaskCreate(feature=feature, inputs=json.loads(inputs)),
        idempotency_key=None,
        language="en",
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
