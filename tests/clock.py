"""A clock for tests: whole microseconds that move only when the test says so."""

from __future__ import annotations


class Clock:
    """Starts at a fixed instant; `advance` moves it."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000_000

    def __call__(self) -> int:
        return self.now

    def seconds(self) -> float:
        """The same instant in seconds, for code that takes a float clock (the cache)."""
        return self.now / 1_000_000

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1_000_000)
