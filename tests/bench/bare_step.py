"""The step functions' benchmark baseline: a bare Powertools batch handler for SQS events.

`BatchProcessor(EventType.SQS)` + `process_partial_response`, one Redis GET per record,
nothing else: no logging, no metrics, no settings. The Redis client is created lazily on first
use with the same URL, timeouts and retry policy as `retouch.core.redis.get_redis`, so both
sides pay a connect on their first event. `scripts/bench/pipeline.py` compares the cold start
of `functions/steps/generate/app.py` against this.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from tests.bench.bare_redis import bare_redis

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    bare_redis().get("bench:bare")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
