"""The Redis Streams adapter: one stream and one consumer group per queue (DESIGN.md §5).

Keys of queue `steps` (the braces are a Redis Cluster hash tag, so every script's keys share
a slot): `q:{steps}` the stream, `q:{steps}:dlq` its dead-letter stream, `q:{steps}:delayed`
the sorted set of delayed messages, `q:{steps}:cursor` where reclaiming resumes.

    queue = get_queue()  # retouch.queue.factory: this adapter when RETOUCH_QUEUE_BACKEND=redis
    queue.publish("steps", {"task_id": "tsk_…", "step": "generate", "attempt": 1})
    for delivery in queue.receive("steps", max_messages=10, wait_s=1):
        ...
        queue.ack(delivery)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeVar, cast

import redis

from retouch.core.redis import RedisClient
from retouch.core.settings import Settings
from retouch.queue import scripts
from retouch.queue.depth import QueueDepth
from retouch.queue.messages import (
    DeadMessage,
    Delivery,
    InvalidMessage,
    QueueMessage,
    check_delay,
    check_queue_name,
    decode_body,
    encode_body,
    new_consumer_name,
    new_message_id,
)

T = TypeVar("T")

GROUP = "retouch"
_PAGE = 100


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """Delivery rules (`RETOUCH_QUEUE_*`), in seconds."""

    visibility_timeout_s: float = 30.0
    max_deliveries: int = 5
    poll_interval_s: float = 0.2

    @classmethod
    def from_settings(cls, settings: Settings) -> QueueConfig:
        return cls(
            visibility_timeout_s=settings.queue_visibility_timeout_s,
            max_deliveries=settings.queue_max_deliveries,
            # A blocking read must end before the client's socket timeout does.
            poll_interval_s=min(settings.queue_poll_interval_s, settings.redis_timeout_s / 2),
        )


def stream_key(queue: str) -> str:
    return f"q:{{{check_queue_name(queue)}}}"


def dead_letter_key(queue: str) -> str:
    return f"{stream_key(queue)}:dlq"


def delayed_key(queue: str) -> str:
    return f"{stream_key(queue)}:delayed"


def _fields(entry: Sequence[Any] | Mapping[Any, Any]) -> dict[str, str]:
    """An entry's fields: a flat [name, value, ...] list from our scripts, or the mapping
    redis-py parses an XREADGROUP reply into."""
    if isinstance(entry, Mapping):
        return {str(name): str(value) for name, value in entry.items()}
    return {str(entry[index]): str(entry[index + 1]) for index in range(0, len(entry), 2)}


def _message(fields: dict[str, str], delivery_count: int) -> QueueMessage:
    return QueueMessage(
        id=fields["id"],
        body=decode_body(fields["body"]),
        delivery_count=delivery_count,
        sent_at_ms=int(fields.get("sent", 0)),
    )


def _milliseconds(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class RedisStreamsQueue:
    """`QueuePort` on Redis Streams. One instance is one consumer (named after host, process
    and a random suffix); it is thread-safe like the redis-py client under it."""

    def __init__(
        self, client: RedisClient, config: QueueConfig, *, consumer: str | None = None
    ) -> None:
        self.config = config
        self.consumer = consumer or new_consumer_name()
        self._client = client
        self._groups: set[str] = set()
        self._publish = client.register_script(scripts.PUBLISH)
        self._receive = client.register_script(scripts.RECEIVE)
        self._redrive = client.register_script(scripts.REDRIVE)

    def publish(self, queue: str, body: dict[str, Any], *, delay_s: float = 0) -> str:
        check_delay(delay_s)
        message_id = new_message_id()
        self._publish(
            keys=[stream_key(queue), delayed_key(queue)],
            args=[message_id, encode_body(body), _milliseconds(delay_s)],
        )
        return message_id

    def publish_many(
        self, messages: Sequence[tuple[str, dict[str, Any], float]]
    ) -> list[str | Exception]:
        """`publish` of each message, all in one pipeline (one round trip); a message that is
        not valid, or whose script failed, gets its error and the others go all the same."""
        outcomes: list[str | Exception] = []
        pipe = self._client.pipeline(transaction=False)
        for queue, body, delay_s in messages:
            message_id = new_message_id()
            try:
                text, delay_ms = encode_body(body), _milliseconds(check_delay(delay_s))
            except InvalidMessage as exc:
                outcomes.append(exc)
                continue
            keys = [stream_key(queue), delayed_key(queue)]
            self._publish(keys=keys, args=[message_id, text, delay_ms], client=pipe)
            outcomes.append(message_id)
        try:
            replies = iter(pipe.execute(raise_on_error=False))
        except redis.RedisError as exc:  # the round trip itself failed: nothing is known sent
            return [o if isinstance(o, Exception) else exc for o in outcomes]
        for n, outcome in enumerate(outcomes):
            if not isinstance(outcome, Exception):
                reply = next(replies)
                outcomes[n] = reply if isinstance(reply, Exception) else outcome
        return outcomes

    def receive(self, queue: str, *, max_messages: int = 10, wait_s: float = 0) -> list[Delivery]:
        if not 1 <= max_messages <= 10_000:
            raise ValueError("max_messages is 1-10000")
        deadline = time.monotonic() + wait_s
        while True:
            deliveries = self._with_group(queue, lambda: self._receive_now(queue, max_messages))
            remaining = deadline - time.monotonic()
            if deliveries or remaining <= 0:
                return deliveries
            # Wait on the stream for new messages; reclaims and due delays are checked again
            # by the script once the short block ends.
            block_ms = max(1, _milliseconds(min(remaining, self.config.poll_interval_s)))
            fresh = self._with_group(
                queue, partial(self._read_new, queue, max_messages=max_messages, block_ms=block_ms)
            )
            if fresh:
                entries = cast(list[Any], fresh)[0][1]
                return [self._delivery(queue, entry[0], 1, entry[1]) for entry in entries]

    def ack(self, delivery: Delivery) -> bool:
        return self.ack_many([delivery]) == 1

    def ack_many(self, deliveries: Sequence[Delivery]) -> int:
        """`ack` of each, in one MULTI … EXEC (one round trip); how many were still there."""
        receipts: dict[str, list[str]] = {}
        for delivery in deliveries:
            receipts.setdefault(stream_key(delivery.queue), []).append(delivery.receipt)
        with self._client.pipeline(transaction=True) as pipeline:
            for key, ids in receipts.items():
                pipeline.xack(key, GROUP, *ids)
                pipeline.xdel(key, *ids)
            replies = pipeline.execute() if receipts else []
        return sum(int(acknowledged) for acknowledged in replies[0::2])

    def retry_later(self, delivery: Delivery, delay_s: float = 0) -> bool:
        visibility_ms = _milliseconds(self.config.visibility_timeout_s)
        if not 0 <= _milliseconds(delay_s) <= visibility_ms:
            raise InvalidMessage("a retry delay is 0 up to the visibility timeout")
        # Backdate the delivery so it turns idle for a visibility timeout after `delay_s`;
        # JUSTID leaves the delivery count alone (the redelivery will count).
        claimed = self._client.xclaim(
            stream_key(delivery.queue),
            GROUP,
            delivery.consumer,
            0,
            [delivery.receipt],
            idle=visibility_ms - _milliseconds(delay_s),
            justid=True,
        )
        return bool(claimed)

    def list_dead(self, queue: str, limit: int = 100) -> list[DeadMessage]:
        return [
            self._dead(entry_id, fields) for entry_id, fields in self._dead_page(queue, "-", limit)
        ]

    def redrive(self, queue: str, message_ids: Collection[str] | Literal["all"]) -> int:
        wanted = None if message_ids == "all" else set(message_ids)
        moved, start = 0, "-"
        while page := self._dead_page(queue, start, _PAGE):
            chosen = [
                entry_id
                for entry_id, fields in page
                if wanted is None or fields.get("id") in wanted
            ]
            if chosen:
                moved += int(
                    self._redrive(keys=[stream_key(queue), dead_letter_key(queue)], args=chosen)
                )
            start = "(" + page[-1][0]
        return moved

    def depth(self, queue: str) -> QueueDepth:
        """Exact counts; the oldest age from the first stream entry's id (its time in ms)."""
        with self._client.pipeline(transaction=False) as pipeline:
            pipeline.xlen(stream_key(queue))
            pipeline.zcard(delayed_key(queue))
            pipeline.xlen(dead_letter_key(queue))
            pipeline.xrange(stream_key(queue), count=1)
            streamed, delayed, dead, first = pipeline.execute()
        oldest = None
        if first:
            oldest = max(0.0, time.time() - int(str(first[0][0]).split("-")[0]) / 1000)
        return QueueDepth(waiting=int(streamed) + int(delayed), dead=int(dead), oldest_age_s=oldest)

    def _dead_page(self, queue: str, start: str, count: int) -> list[tuple[str, dict[str, str]]]:
        """Dead-letter entries from `start` on (redis-py parses each into id and field map)."""
        entries = cast(
            list[tuple[str, dict[str, str]]],
            self._client.xrange(dead_letter_key(queue), min=start, count=count) or [],
        )
        return [(str(entry_id), dict(fields)) for entry_id, fields in entries]

    def _read_new(self, queue: str, *, max_messages: int, block_ms: int) -> Any:
        return self._client.xreadgroup(
            GROUP, self.consumer, {stream_key(queue): ">"}, max_messages, block_ms
        )

    def _receive_now(self, queue: str, max_messages: int) -> list[Delivery]:
        key = stream_key(queue)
        rows = self._receive(
            keys=[key, delayed_key(queue), dead_letter_key(queue), f"{key}:cursor"],
            args=[
                GROUP,
                self.consumer,
                max_messages,
                _milliseconds(self.config.visibility_timeout_s),
                self.config.max_deliveries,
            ],
        )
        return [self._delivery(queue, row[0], int(row[1]), row[2]) for row in rows]

    def _delivery(
        self, queue: str, entry_id: str, count: int, fields: Sequence[Any] | Mapping[Any, Any]
    ) -> Delivery:
        message = _message(_fields(fields), count)
        return Delivery(queue=queue, receipt=str(entry_id), consumer=self.consumer, message=message)

    @staticmethod
    def _dead(entry_id: str, fields: dict[str, str]) -> DeadMessage:
        return DeadMessage(
            message=_message(fields, int(fields.get("deliveries", 0))),
            dead_at_ms=int(fields.get("dead_at", 0)),
            dead_letter_id=entry_id,
        )

    def _with_group(self, queue: str, call: Callable[[], T]) -> T:
        """Run `call`, creating the consumer group first on this instance's first use of the
        queue, and again if Redis lost it (a restart without persistence)."""
        if queue not in self._groups:
            self._create_group(queue)
        try:
            return call()
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._create_group(queue)
            return call()

    def _create_group(self, queue: str) -> None:
        try:
            # From id 0, so messages published before any consumer existed are delivered.
            self._client.xgroup_create(stream_key(queue), GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add(queue)
