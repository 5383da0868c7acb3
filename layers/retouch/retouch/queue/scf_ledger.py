"""What the SCF queue keeps in Redis: delayed messages, delivery counts and dead letters.

SCF's asynchronous invocation has no delay, counts no deliveries and has no dead-letter queue
of its own today (its DLQ was a CMQ queue, retired with CMQ), so the `scf` backend keeps these
three in Redis (docs/queue-tencent.md). Keys:

- `scfq:delayed` — one sorted set of envelopes (JSON, naming their queue) by due time in ms;
  the relay claims due ones by pushing their score a lease ahead, invokes, then removes them,
  so a relay that dies mid-way leaves them to the next run (at least once, never early).
- `scfq:{<queue>}:deliveries:<message id>` — how often the message arrived (any function
  instance, platform retries included), expiring after a day.
- `scfq:{<queue>}:dead` — a hash of dead letters by message id (JSON: the envelope, the
  deliveries and when it died).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, cast

from retouch.core.redis import RedisClient
from retouch.queue.messages import (
    DeadMessage,
    InvalidMessage,
    QueueMessage,
    check_queue_name,
    decode_body,
)

DELAYED_KEY = "scfq:delayed"
#: A delivery count outlives any retry chain: SCF keeps an async event at most a day.
DELIVERY_COUNT_TTL_S = 86_400

# Due members, their score pushed `lease` ahead so a concurrent relay skips them.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member) end
return due
"""


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message as the scf backend carries it: the event a step function is invoked with
    is `{"Records": [{"RetouchQueue": <envelope>}]}` (see `event`)."""

    queue: str
    # The field names of the event, spelled as SCF's own queue triggers spell theirs.
    msgId: str
    msgBody: str
    sentAtMs: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    def event(self) -> dict[str, Any]:
        """The invocation's event."""
        return {"Records": [{"RetouchQueue": asdict(self)}]}

    def event_text(self) -> str:
        """The invocation's event as the JSON text of SCF's `ClientContext`."""
        return json.dumps(self.event(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_record(cls, record: Any) -> Envelope:
        """The envelope of a `RetouchQueue` record; InvalidMessage when a field is wrong."""
        if not isinstance(record, dict):
            raise InvalidMessage("a RetouchQueue record is an object")
        queue, message_id = record.get("queue"), record.get("msgId")
        body, sent = record.get("msgBody"), record.get("sentAtMs")
        if not (isinstance(queue, str) and isinstance(message_id, str) and message_id):
            raise InvalidMessage("a RetouchQueue record needs its queue and msgId")
        if not isinstance(body, str) or not isinstance(sent, int) or isinstance(sent, bool):
            raise InvalidMessage("a RetouchQueue record needs a string msgBody and int sentAtMs")
        decode_body(body)  # refuse a record whose body is not a JSON object
        return cls(queue=check_queue_name(queue), msgId=message_id, msgBody=body, sentAtMs=sent)


def _count_key(envelope: Envelope) -> str:
    return f"scfq:{{{envelope.queue}}}:deliveries:{envelope.msgId}"


def _dead_key(queue: str) -> str:
    return f"scfq:{{{check_queue_name(queue)}}}:dead"


class ScfLedger:
    """Delays, delivery counts and dead letters of the scf backend, in Redis."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._claim = client.register_script(_CLAIM_DUE)

    def hold(self, envelope: Envelope, *, due_ms: int) -> None:
        """Keep `envelope` until `due_ms`."""
        self._client.zadd(DELAYED_KEY, {envelope.to_json(): due_ms})

    def claim_due(self, *, now_ms: int, lease_ms: int, limit: int) -> list[Envelope]:
        """Up to `limit` envelopes due at `now_ms`, hidden from other relays for `lease_ms`."""
        members = self._claim(keys=[DELAYED_KEY], args=[now_ms, now_ms + lease_ms, limit])
        return [Envelope(**json.loads(member)) for member in cast(list[Any], members)]

    def release(self, envelope: Envelope) -> None:
        """Forget a delayed envelope once it was sent."""
        self._client.zrem(DELAYED_KEY, envelope.to_json())

    def count_delivery(self, envelope: Envelope) -> int:
        """Count one more arrival of the message; returns its arrivals so far (1 = first)."""
        with self._client.pipeline(transaction=True) as pipeline:
            pipeline.incr(_count_key(envelope))
            pipeline.expire(_count_key(envelope), DELIVERY_COUNT_TTL_S)
            count, _ = pipeline.execute()
        return int(count)

    def bury(self, envelope: Envelope, *, deliveries: int, now_ms: int) -> None:
        """Keep the message as a dead letter of its queue (replacing an earlier one)."""
        record = {"envelope": asdict(envelope), "deliveries": deliveries, "dead_at_ms": now_ms}
        self._client.hset(_dead_key(envelope.queue), envelope.msgId, json.dumps(record))

    def unbury(self, envelope: Envelope) -> bool:
        """Remove the message's dead letter (it succeeded, or was redriven)."""
        return bool(self._client.hdel(_dead_key(envelope.queue), envelope.msgId))

    def forget_deliveries(self, envelope: Envelope) -> None:
        """Start the message's delivery count again (a redrive)."""
        self._client.delete(_count_key(envelope))

    def dead_count(self, queue: str) -> int:
        """How many dead letters `queue` has."""
        return int(self._client.hlen(_dead_key(queue)))

    def dead(self, queue: str) -> list[tuple[Envelope, DeadMessage]]:
        """Every dead letter of `queue`, oldest death first."""
        raw = cast(dict[Any, Any], self._client.hgetall(_dead_key(queue)))
        letters = []
        for message_id, text in raw.items():
            record = json.loads(text)
            envelope = Envelope(**record["envelope"])
            message = QueueMessage(
                id=envelope.msgId,
                body=decode_body(envelope.msgBody),
                delivery_count=int(record["deliveries"]),
                sent_at_ms=envelope.sentAtMs,
            )
            dead = DeadMessage(message, int(record["dead_at_ms"]), str(message_id))
            letters.append((envelope, dead))
        return sorted(letters, key=lambda letter: (letter[1].dead_at_ms, letter[1].dead_letter_id))
