"""The step functions' entry point: `functions/steps/*/app.py` take their handlers from here.

Powertools' batch utility is imported first, before anything imports pydantic. Its
`batch.types` module checks whether pydantic is already loaded and, if so, also builds the
pydantic parser models of SQS, Kinesis, DynamoDB and Kafka records (24 models, ≈ 30 ms of a
cold start) for `BatchProcessor(model=...)`, which the steps never use (they read
`record.json_body`). Imported in this order, a step function loads the batch utility as a
bare Powertools handler does; `tests/unit/test_step_imports.py` pins it.
"""

from typing import Any

import aws_lambda_powertools.utilities.batch  # noqa: F401 - must precede pydantic, see above

from retouch.bootstrap.engine import get_engine
from retouch.core.errortracking import flush_reports, reporting_errors, reporting_record_errors
from retouch.core.logging import invocation_keys, logger
from retouch.core.metrics import flushing_metrics, record_invocation
from retouch.queue.scf_events import run_scf_batch
from retouch.queue.sqs_events import process_batch

__all__ = ["handle_scf_step_event", "handle_step_event"]

_cold_start = True


@reporting_errors
@flushing_metrics
def handle_step_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A step function's Lambda handler: Powertools batch processing over the SQS records,
    each a step message; failed records come back after the visibility timeout. Its log lines
    carry the function, the platform's request id and `cold_start`, as the HTTP functions';
    its metrics leave when it returns (`flushing_metrics`); each record that fails is reported
    on its own, once (`reporting_record_errors`, the batch's reports sent together at its
    end), and an error that escapes it (the engine could not start) by `reporting_errors`."""
    global _cold_start
    keys = invocation_keys(context)
    logger.thread_safe_append_keys(cold_start=_cold_start, **keys)
    record_invocation(cold_start=_cold_start, function=keys["function_name"])
    _cold_start = False
    engine = get_engine()
    try:
        handle = reporting_record_errors(lambda record: engine.handle(record.json_body), context)
        return process_batch(event, handle, context)
    finally:
        try:
            engine.flush()  # the batch's outbox marks, in one statement
        finally:
            flush_reports()  # the failed records' reports, in one wait


def handle_scf_step_event(event: dict[str, Any], context: Any) -> Any:
    """The same for an SCF queue trigger (the whole batch is retried on any failure)."""
    return run_scf_batch(event, handle_step_event, context)
