"""Step messages: small JSON bodies naming a task and where it stands; the state lives in
`tasks` and `task_steps`. `{task_id, step, index, attempt}` plus, for `finalize`, the outcome,
and `prompt: true` on a `generate` message a vendor's callback sent (it only polls). The first
message of a task (written by task creation) has no `index`: it means the first step of that
kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from retouch.queue.messages import InvalidMessage
from retouch.queue.steps import STEP_KINDS, StepKind, step_queue
from retouch.tasks.records import is_task_id

__all__ = ["STEP_KINDS", "StepKind", "StepMessage", "step_queue"]


@dataclass(frozen=True, slots=True)
class StepMessage:
    task_id: str
    step: StepKind
    index: int | None = None
    attempt: int = 1
    outcome: Literal["succeeded", "failed"] | None = None
    error_code: str | None = None
    #: Sent by a callback (`pipeline.callbacks`): poll the waiting job now, start nothing.
    prompt: bool = False

    @classmethod
    def parse(cls, body: dict[str, Any]) -> StepMessage:
        """The message in `body`; InvalidMessage when it is not one of ours (dropped)."""
        task_id, step = body.get("task_id"), body.get("step")
        index, attempt = body.get("index"), body.get("attempt", 1)
        if not isinstance(task_id, str) or not is_task_id(task_id):
            raise InvalidMessage("a step message names a task id")
        if step not in STEP_KINDS:
            raise InvalidMessage("a step message names a step kind")
        if index is not None and (type(index) is not int or not 0 <= index < 64):
            raise InvalidMessage("a step index is a small integer")
        if type(attempt) is not int or not 1 <= attempt <= 1000:
            raise InvalidMessage("an attempt is a positive integer")
        outcome = body.get("outcome")
        if step == "finalize" and outcome not in ("succeeded", "failed"):
            raise InvalidMessage("a finalize message names the outcome")
        error_code = body.get("error_code")
        if error_code is not None and not isinstance(error_code, str):
            raise InvalidMessage("an error code is a string")
        prompt = body.get("prompt", False)
        if type(prompt) is not bool:
            raise InvalidMessage("a prompt flag is a boolean")
        return cls(task_id, step, index, attempt, outcome, error_code, prompt)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"task_id": self.task_id, "step": self.step, "attempt": self.attempt}
        if self.index is not None:
            body["index"] = self.index
        if self.outcome is not None:
            body["outcome"] = self.outcome
        if self.error_code is not None:
            body["error_code"] = self.error_code
        if self.prompt:
            body["prompt"] = True
        return body
