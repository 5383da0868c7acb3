"""The access tokens this instance has verified, so a client's next request with the same
token skips the signature check and claim parsing (PyJWT checks every character of the token
in Python: about a tenth of a warm request's CPU, `scripts/bench/hotpath.py`).

An entry answers only for the very token string that verified, and only while everything the
verification depended on still holds: the key its `kid` names is still configured with the
same bytes (a key removed or replaced by a rotation refuses its tokens at once), the issuer
and audience are the configured ones, and the token has not expired (checked on every use,
with PyJWT's rule: valid while `exp` is in the future). Anything else falls through to the
full verification, which gives the refusal its usual error. Per instance, bounded: past
`capacity` entries the table starts over.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[C]):
    claims: C
    kid: str
    key: bytes
    issuer: str
    audience: str
    expires_at: int


class VerifiedTokens(Generic[C]):
    """Token string → the claims it verified to, under the conditions of the module docstring."""

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._entries: dict[str, _Entry[C]] = {}
        self._lock = threading.Lock()

    def get(
        self,
        token: str,
        *,
        keys: Mapping[str, bytes],
        issuer: str,
        audience: str,
        now: float | None = None,
    ) -> C | None:
        """The claims `token` verified to, if every condition still holds; else None."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        key = keys.get(entry.kid)
        if (
            key is None
            or not hmac.compare_digest(key, entry.key)
            or (entry.issuer, entry.audience) != (issuer, audience)
            or entry.expires_at <= (time.time() if now is None else now)
        ):
            return None
        return entry.claims

    def put(
        self, token: str, claims: C, *, kid: str, key: bytes, issuer: str, audience: str,
        expires_at: int,
    ) -> None:  # fmt: skip
        """Remember that `token` verified to `claims` with `key` (named `kid`)."""
        entry = _Entry(claims, kid, key, issuer, audience, expires_at)
        with self._lock:
            if len(self._entries) >= self._capacity:
                self._entries.clear()
            self._entries[token] = entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
