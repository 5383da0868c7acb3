"""The per-user cap on open event streams (`RETOUCH_TASK_EVENTS_STREAMS_PER_USER`).

A user's open streams are one Redis sorted set, `sse:{user}`: a member per stream, scored
with the time its slot lapses (the longest a stream stays open, plus a margin). One script
drops lapsed members, counts, and adds the new one only under the cap, so two streams opened
at once cannot both take the last slot; a stream gives its slot back when it ends, and an
instance that dies holding one loses it when it lapses. A refusal is 429 `TOO_MANY_STREAMS`
whose `Retry-After` (and `RateLimit-Reset`) is when the oldest slot lapses at the latest.
Without Redis there is no stream to count (the route answers one event), so nothing is held.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable

from retouch.core.errors import AppError
from retouch.core.ratelimit import refusal_headers
from retouch.core.redis import RedisClient

SLOT_MARGIN_S = 30

# KEYS[1] the user's set; ARGV: now, lapses at, cap, member, key ttl (s).
# Returns {1, 0} when taken, {0, the oldest slot's lapse time} when the user is at the cap.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, 0}
"""


class TooManyStreams(AppError):
    """The user already holds as many open event streams as allowed."""

    code = "TOO_MANY_STREAMS"

    def __init__(self, *, limit: int, retry_after_s: int) -> None:
        super().__init__(
            "At most {limit} event streams may be open at once",
            headers=refusal_headers(limit, retry_after_s),
            limit=limit,
        )


def slots_key(user_id: str) -> str:
    return f"sse:{{{user_id}}}"


def take_slot(
    client: RedisClient,
    user_id: str,
    *,
    cap: int,
    hold_s: float,
    clock: Callable[[], float] = time.time,
) -> str:
    """Hold one of the user's stream slots for at most `hold_s` (+ the margin); its member.
    TooManyStreams when the user holds `cap` already."""
    now = clock()
    member = uuid.uuid4().hex
    lapses_at = now + hold_s + SLOT_MARGIN_S
    taken, oldest = client.eval(
        _TAKE, 1, slots_key(user_id), now, lapses_at, cap, member, math.ceil(lapses_at - now)
    )
    if int(taken) != 1:
        wait = max(1, math.ceil(float(oldest) - now))
        raise TooManyStreams(limit=cap, retry_after_s=wait)
    return member


def give_back(client: RedisClient, user_id: str, member: str) -> None:
    """End the hold of `member` (a stream that ended)."""
    client.zrem(slots_key(user_id), member)
