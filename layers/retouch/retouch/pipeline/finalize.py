"""The `finalize` step of the engine."""

from __future__ import annotations

from retouch.pipeline.context import After, StepContext, StepRun, previous_steps
from retouch.tasks.lifecycle import Outcome, end_task
from retouch.tasks.records import StoredImage


def run_finalize(context: StepContext, run: StepRun) -> None:
    """`finalize`: the task's one ending (`tasks.lifecycle.end_task`), with its charge or
    refund: success with the images `store` kept, or the failure the message names."""
    task, now, uow = run.task, context.clock(), run.uow
    if run.message.outcome == "failed":
        outcome = Outcome(
            "failed",
            error_code=run.message.error_code or "GENERATION_FAILED",
            error_detail="finalize",
        )
    else:
        # the rows of the last `store` and `generate` (read with the task, or in one statement)
        store, generate = previous_steps(run, ("store", "generate"))
        outcome = _success(store.state if store else {}, generate.state if generate else {})
    after = After(ended=end_task(uow, task, outcome, now=now))
    uow.commit()
    after.run(context)


def _success(store: dict[str, object], generate: dict[str, object]) -> Outcome:
    """The images `store` kept (and who made them), or a failure when it kept none."""
    kept = store.get("images", [])
    images = tuple(
        StoredImage(key=i["key"], width=int(i["width"]), height=int(i["height"]))
        for i in (kept if isinstance(kept, list) else [])
    )
    if not images:
        return Outcome("failed", error_code="GENERATION_FAILED", error_detail="no stored image")
    provider = generate.get("provider")
    return Outcome(
        "succeeded", images=images, provider=provider if isinstance(provider, str) else None
    )
