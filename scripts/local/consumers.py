"""Local SQS event source mappings: the template's SQS-triggered functions fed from Redis.

One consumer thread per `SQS` event of the template, as Lambda's poller: it receives a batch of
up to BatchSize messages from the Redis stream of the queue's local name (see
`scripts.local.sam.Template.queue_for`), calls the function's handler with the SQS-shaped event and
a Lambda-like context, and acknowledges every message the response does not report in
`batchItemFailures` (`retouch.queue.consume`). Failed messages come back after the queue's
visibility timeout with a higher ApproximateReceiveCount and move to the dead-letter stream
after the redrive policy's maxReceiveCount; a queue that declares neither uses
RETOUCH_QUEUE_VISIBILITY_TIMEOUT_S and RETOUCH_QUEUE_MAX_DELIVERIES.

Threads, like the gateway's workers: each consumer calls its handler on its own thread, with
its own event loop and (through retouch's per-thread client) its own database connection.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import redis

from retouch.core.redis import get_redis
from retouch.core.settings import Settings
from retouch.queue import QueueConfig, QueuePort, RedisStreamsQueue, consume
from retouch.queue.redis_streams import dead_letter_key
from scripts.local.lambda_runtime import FakeLambdaContext, new_event_loop
from scripts.local.sam import LambdaHandler, QueueResource, QueueTrigger, Template

#: A receive waits this long for a first message: short, so a stop is noticed quickly.
WAIT_S = 1.0
#: After a failed receive or acknowledgement (Redis down), wait this long, doubling up to
#: BACKOFF_MAX_S while it lasts.
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 8.0
#: How long a stop waits for a batch in flight before it leaves the thread behind.
STOP_TIMEOUT_S = 15.0

Log = Callable[[str], None]


def log_line(message: str) -> None:
    print(f"consumer: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class QueueConsumer:
    """One `SQS` event of one function, resolved to its local queue and delivery rules."""

    function_name: str  # the function's logical id
    handler: LambdaHandler
    trigger: QueueTrigger
    queue: QueueResource
    config: QueueConfig

    @property
    def label(self) -> str:
        return f"{self.function_name} <- {self.queue.name}"

    def describe(self) -> str:
        """One line for the stack's start-up report."""
        queue = self.queue
        visibility = "template" if queue.visibility_timeout_s is not None else "settings"
        deliveries = "template" if queue.max_receive_count is not None else "settings"
        dead_letters = dead_letter_key(queue.name)
        if queue.dead_letter_queue:
            dead_letters += f" (the template's {queue.dead_letter_queue})"
        return (
            f"{self.label}: batch {self.trigger.batch_size}, visibility "
            f"{self.config.visibility_timeout_s:g} s ({visibility}), dead letter after "
            f"{self.config.max_deliveries} deliveries ({deliveries}) -> {dead_letters}"
        )


def queue_consumers(
    template: Template, handlers: Mapping[str, LambdaHandler], *, settings: Settings
) -> list[QueueConsumer]:
    """A consumer per `SQS` event of the template; `handlers` by logical id. The queue's own
    VisibilityTimeout and maxReceiveCount win over the settings, as they would on AWS."""
    defaults = QueueConfig.from_settings(settings)
    consumers = []
    for spec in template.functions:
        for trigger in spec.queues:
            queue = template.queue_for(trigger)
            config = dataclasses.replace(
                defaults,
                visibility_timeout_s=(
                    defaults.visibility_timeout_s
                    if queue.visibility_timeout_s is None
                    else float(queue.visibility_timeout_s)
                ),
                max_deliveries=queue.max_receive_count or defaults.max_deliveries,
            )
            consumers.append(
                QueueConsumer(spec.logical_id, handlers[spec.logical_id], trigger, queue, config)
            )
    return consumers


def run_consumer(
    consumer: QueueConsumer,
    queue: QueuePort,
    stop: threading.Event,
    *,
    wait_s: float = WAIT_S,
    log: Log = log_line,
) -> None:
    """Receive and invoke batch after batch until `stop` is set. A handler that raised fails
    its batch (`consume` reports it); Redis errors and anything unexpected are logged and
    retried after a growing pause, so the consumer outlives outages."""
    backoff = 0.0
    while not stop.is_set():
        context = FakeLambdaContext.for_function(consumer.function_name, str(uuid.uuid4()))
        try:
            outcome = consume(
                queue,
                consumer.queue.name,
                consumer.handler,
                context=context,
                max_messages=consumer.trigger.batch_size,
                wait_s=wait_s,
            )
        except Exception as exc:  # noqa: BLE001 - a consumer must outlive any one failure
            backoff = min(BACKOFF_MAX_S, backoff * 2 or BACKOFF_FIRST_S)
            if isinstance(exc, redis.RedisError):
                log(f"{consumer.label}: Redis unavailable ({exc}); retrying in {backoff:g} s")
            else:
                traceback.print_exc(file=sys.stderr)
                log(f"{consumer.label}: receive failed ({exc!r}); retrying in {backoff:g} s")
            stop.wait(backoff)
            continue
        backoff = 0.0
        if outcome.acknowledged or outcome.failed:
            log(
                f"{consumer.label}: acked {len(outcome.acknowledged)}, failed {len(outcome.failed)}"
            )


class ConsumerThreads:
    """The consumers' threads: started together, stopped together."""

    def __init__(
        self, consumers: Sequence[QueueConsumer], *, wait_s: float = WAIT_S, log: Log = log_line
    ) -> None:
        self.consumers = list(consumers)
        self._wait_s = wait_s
        self._log = log
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        for consumer in self.consumers:
            # One queue client per consumer (its own consumer name in the group), all over
            # the process's Redis connection pool.
            queue = RedisStreamsQueue(get_redis(), consumer.config)
            thread = threading.Thread(
                target=self._run,
                args=(consumer, queue),
                name=f"consumer-{consumer.function_name}-{consumer.trigger.event_name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop receiving; wait for the batches in flight to finish."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
            if thread.is_alive():
                self._log(f"{thread.name} is still in a batch after {timeout_s:g} s; left behind")
        self._threads = []

    def _run(self, consumer: QueueConsumer, queue: QueuePort) -> None:
        new_event_loop()
        run_consumer(consumer, queue, self._stop, wait_s=self._wait_s, log=self._log)
