"""The pipeline's step queues: the step kinds and the queue each is sent to. Here, below the
domains, because task creation (tasks) sends a task's first step and the engine (pipeline)
sends the others: neither imports the other for a queue's name."""

from __future__ import annotations

from typing import Literal

StepKind = Literal["prepare", "generate", "store", "finalize"]
STEP_KINDS: tuple[StepKind, ...] = ("prepare", "generate", "store", "finalize")


def step_queue(step: str) -> str:
    """The queue of a step kind (`steps-prepare`); the platform's prefix is the adapter's."""
    return f"steps-{step}"
