"""The caller's record cached in Redis (`retouch.core.caller_cache`, docs/performance.md "The
caller from Redis")."""

from __future__ import annotations

from pydantic import Field

from retouch.core.settings.base import SettingsGroup


class CallerCacheSettings(SettingsGroup):
    """The cached caller."""

    caller_cache_ttl_s: int = Field(
        5,
        ge=0,
        le=60,
        description="a cached caller record lives at most this long after it was written (0: "
        "off, every request reads its caller from MySQL); every change of who the caller is "
        "invalidates it at once, so this bounds only an invalidation that failed",
    )
