"""The Redis AUTH token, read through RETOUCH_REDIS_AUTH_SECRET by every new connection.

redis-py asks the credential provider each time it dials, and the value comes from the
secrets cache: a pooled connection dials no store, and a token rotated in the store is used
by the connections made after RETOUCH_SECRETS_CACHE_S. A token that cannot be read is a Redis
that cannot be reached (`redis.ConnectionError`), handled wherever Redis being down is: the
limiter and the cache take their fallbacks, a request that needs Redis answers 503.
"""

from __future__ import annotations

import redis
from redis.credentials import CredentialProvider

from retouch.core.secrets.cache import SecretUnavailable, get_secret


class RedisToken(CredentialProvider):
    """The AUTH token (ElastiCache's `AuthToken`: a password without a user name)."""

    def __init__(self, reference: str) -> None:
        self.reference = reference

    def get_credentials(self) -> tuple[str]:
        try:
            return (get_secret(self.reference),)
        except SecretUnavailable as exc:
            # The message names the reference and the store's error code, never a value.
            raise redis.exceptions.ConnectionError(str(exc)) from None
