"""The caller's record cached in Redis, read in the per-IP limiter's round trip.

Every authenticated request needs its caller: the account, whether the token's session was
revoked, and the membership in force. The record is kept in one hash per user,
`caller:{<digest of the public id>}`, with the record (`r`) and one field per session
(`s:<sid>`: "0" live), next to a generation counter `caller:{<digest>}:gen`. Key names hold
only the digest, as the limiter's do, so no key names an erased person (the hash itself is
deleted by the deletion's invalidation, and only active callers are written):

- **Read**: the request-context middleware takes the `sub` and `sid` the bearer token
  *claims* (`claimed`, no verification: an unverified claim only chooses which entry to read)
  and the limiter's script reads the two fields and the generation with the GCRA step, in the
  same `EVALSHA` (`prefetch_read`). The caller dependency uses what was read only once it has
  verified the token and only for the very `sub` and `sid` it verified.
- **Refill** (after a miss, from the MySQL statement): written only if the generation is still
  the one read before that statement, so a request that read the old state before a change
  cannot write it back after the change's invalidation. The hash expires
  `RETOUCH_CALLER_CACHE_TTL_S` after it was created, whatever is added to it later, so an
  entry a failed invalidation left behind lives that long at most.
- **Invalidation** (`CallerCache.forget`, after the commit of every write that changes who the
  caller is): the generation goes up and the hash goes, in one script.

Redis unavailable: nothing is read, the caller comes from MySQL (never from a guess), a
refill or an invalidation that fails is logged and bounded by the TTL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import redis

from retouch.core.logging import logger
from retouch.core.redis import RedisClient, get_redis
from retouch.core.settings import get_settings

RECORD_FIELD = "r"
PREFETCH_STATE = "caller_prefetch"  # scope["state"] entry: the `Prefetched` of the request
REVOKED, LIVE = "1", "0"
# Public ids and session ids are short `[A-Za-z0-9_-]` strings: anything else is not read.
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BEARER = "bearer "
_MAX_TOKEN = 4096
# How long a generation outlives its last invalidation: far longer than any request, so a
# refill never compares against a counter that expired and started over.
_GENERATION_TTL_MS = 86_400_000


def _digest(public_id: str) -> str:
    return hashlib.blake2b(public_id.encode(), digest_size=16).hexdigest()


def record_key(public_id: str) -> str:
    """The user's hash (the braces keep a user's two keys in one cluster slot)."""
    return f"caller:{{{_digest(public_id)}}}"


def generation_key(public_id: str) -> str:
    return f"caller:{{{_digest(public_id)}}}:gen"


def session_field(session_id: str) -> str:
    return f"s:{session_id}"


@dataclass(frozen=True, slots=True)
class HashRead:
    """What the limiter's script reads after its GCRA step: `fields` of the hash `hash_key`,
    then the plain key `key`; with `step` (a storage key, its interval and window in µs), a
    second step of cost 1 on that key when the fields are a record and a live session
    (`ratelimit_lua.GCRA_READ_STEP_SCRIPT`)."""

    hash_key: str
    fields: tuple[str, ...]
    key: str
    step: tuple[str, int, int] | None = None


@dataclass(frozen=True, slots=True)
class Prefetched:
    """What was read for the claimed caller: the record and the session's state (None: not
    cached) and the generation they were read at ("" before the first invalidation)."""

    subject: str
    session_id: str
    record: str | None
    session: str | None
    generation: str


def claimed(authorization: str | None) -> tuple[str, str] | None:
    """The `sub` and `sid` a bearer token's payload claims, unverified; None when the header
    is not a bearer JWT with two id-shaped claims."""
    if authorization is None or authorization[:7].lower() != _BEARER:
        return None
    token = authorization[7:].strip()
    parts = token.split(".")
    if len(token) > _MAX_TOKEN or len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    subject, session_id = payload.get("sub"), payload.get("sid")
    if not isinstance(subject, str) or not isinstance(session_id, str):
        return None
    if not _ID.fullmatch(subject) or not _ID.fullmatch(session_id):
        return None
    return subject, session_id


def prefetch_read(
    subject: str, session_id: str, step: tuple[str, int, int] | None = None
) -> HashRead:
    """The read of `subject`'s record and session `session_id`'s state, and the generation
    (and `step`: see `HashRead`)."""
    fields = (RECORD_FIELD, session_field(session_id))
    return HashRead(record_key(subject), fields, generation_key(subject), step)


def prefetched(subject: str, session_id: str, values: Sequence[str | None]) -> Prefetched:
    """`values` (the record, the session, the generation) as read by `prefetch_read`; a
    step's values after them are not the read's."""
    record, session, generation = values[:3]
    return Prefetched(subject, session_id, record, session, generation or "")


# KEYS: the hash, the generation. ARGV: the generation read before the statement, the TTL
# (ms), the record, the session field and its state. Written only if the generation has not
# moved; the TTL is set only when the hash is created, never extended.
_REFILL = """
if (redis.call("GET", KEYS[2]) or "") ~= ARGV[1] then return 0 end
local created = redis.call("EXISTS", KEYS[1]) == 0
redis.call("HSET", KEYS[1], "r", ARGV[3], ARGV[4], ARGV[5])
if created then redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 1
"""
# KEYS: the generation, the hash. ARGV: the generation's TTL (ms).
_FORGET = """
redis.call("INCR", KEYS[1])
redis.call("PEXPIRE", KEYS[1], ARGV[1])
return redis.call("DEL", KEYS[2])
"""


class CallerCache:
    """Refill and invalidation of the cached callers (`ttl_s` 0: off, nothing is written)."""

    def __init__(self, client: RedisClient, *, ttl_s: int) -> None:
        self.ttl_s = ttl_s
        self._refill = client.register_script(_REFILL)  # hashes locally, no round trip
        self._forget = client.register_script(_FORGET)

    def refill(self, found: Prefetched, *, record: str, revoked: bool) -> bool:
        """Write the record read from MySQL after `found` missed; False when the generation
        moved since (an invalidation ran: the record may be older than it) or Redis failed."""
        if self.ttl_s <= 0:
            return False
        keys = [record_key(found.subject), generation_key(found.subject)]
        field, state = session_field(found.session_id), REVOKED if revoked else LIVE
        try:
            args: list[str | int] = [found.generation, self.ttl_s * 1000, record, field, state]
            return bool(self._refill(keys=keys, args=args))
        except redis.RedisError as exc:
            logger.warning("caller cache refill failed", extra={"error": type(exc).__name__})
            return False

    def forget(self, public_id: str) -> None:
        """Invalidate `public_id`'s cached record; call after the change has committed. A
        failure is logged, and the record lives at most the TTL."""
        try:
            keys = [generation_key(public_id), record_key(public_id)]
            self._forget(keys=keys, args=[_GENERATION_TTL_MS])
        except redis.RedisError as exc:
            logger.warning(
                "caller cache invalidation failed; bounded by the TTL",
                extra={"error": type(exc).__name__, "ttl_s": self.ttl_s},
            )


@cache
def get_caller_cache() -> CallerCache:
    """The process's caller cache on `get_redis()`, created on first use (no round trip)."""
    return CallerCache(get_redis(), ttl_s=get_settings().caller_cache_ttl_s)
