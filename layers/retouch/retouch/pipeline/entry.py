"""The step functions' entry point: `functions/steps/*/app.py` take their handlers from here.

Powertools' batch utility is imported first, before anything imports pydantic. Its
`batch.types` module checks whether pydantic is already loaded and, if so, also builds the
pydantic parser models of SQS, Kinesis, DynamoDB and Kafka records (24 models, ≈ 30 ms of a
cold start) for `BatchProcessor(model=...)`, which the steps never use (they read
`record.json_body`). Imported in this order, a step function loads the batch utility as a
bare Powertools handler does; `tests/unit/test_step_imports.py` pins it.
"""

import aws_lambda_powertools.utilities.batch  # noqa: F401 - must precede pydantic, see above

from retouch.pipeline.handlers import handle_scf_step_event, handle_step_event

__all__ = ["handle_scf_step_event", "handle_step_event"]
