"""A step consumer process for the crash tests: it consumes every step queue from Redis and
runs the real step functions of template.yaml on Lambda's SQS events, as the local runtime
does, until it is killed (the tests kill it with SIGKILL, mid-step).

    python -m tests.integration.pipeline_worker

Database, Redis, storage and queue settings come from the RETOUCH_* environment.
"""

from __future__ import annotations

import sys

from retouch.queue import consume, get_queue
from scripts.local.sam import load_handler, load_template

STEPS = ("prepare", "generate", "store", "finalize")


def main() -> None:
    template = load_template()
    handlers = {
        step: load_handler(template.function(f"{step.capitalize()}StepFunction")) for step in STEPS
    }
    queue = get_queue()
    sys.stdout.write("worker ready\n")
    sys.stdout.flush()
    while True:
        for step, handler in handlers.items():
            consume(queue, f"steps-{step}", handler, max_messages=5, wait_s=0.05)


if __name__ == "__main__":
    main()
