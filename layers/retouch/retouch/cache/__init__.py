"""Two-level cache-aside (in-process over Redis) for config and user reads.

from retouch.cache import CacheKey, JsonCodec, get_cache
"""

from retouch.cache.codecs import Codec, JsonCodec
from retouch.cache.keys import CacheKey
from retouch.cache.two_level import Cache, CacheConfig, CacheUnavailable, get_cache

__all__ = [
    "Cache",
    "CacheConfig",
    "CacheKey",
    "CacheUnavailable",
    "Codec",
    "JsonCodec",
    "get_cache",
]
