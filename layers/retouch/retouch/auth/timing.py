"""Answers that take as long whether or not an account exists (reset and resend requests)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_sooner_than(floor_ms: int) -> Iterator[None]:
    """Hold the block to at least `floor_ms`: a mail sent or not, the answer comes as late."""
    started = time.monotonic()
    yield
    remaining = floor_ms / 1000 - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
