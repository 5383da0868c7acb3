"""A skip window: after a dependency failed, stop calling it for a while.

The smallest useful circuit breaker for a process that serves one request at a time. One
failure opens the window for `seconds`; while it is open callers answer without the
dependency (fail open or fail fast), so a hung server costs one client timeout per window
instead of one per request. The first call after the window is the trial: success closes it,
failure opens it again. `trip` and `succeeded` say when an outage starts and ends, so the
caller logs one line for each rather than one per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SkipWindow:
    """Open for `seconds` after each failure; `clock` is monotonic seconds (tests inject one)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._until = 0.0
        self._tripped = False

    def is_open(self) -> bool:
        """True while callers should not try the dependency."""
        return self._clock() < self._until

    def trip(self) -> bool:
        """Record a failure and open the window; True for the first failure of an outage."""
        first = not self._tripped
        self._tripped = True
        self._until = self._clock() + self.seconds
        return first

    def succeeded(self) -> bool:
        """Record a success; True once, for the first success after a failure."""
        if not self._tripped:
            return False
        self._tripped = False
        return True
