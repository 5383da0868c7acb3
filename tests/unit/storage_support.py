"""A local storage under the test's temporary folder, with a clock the test moves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retouch.storage import LocalStorage, Signer

SIGNING_KEY = b"storage-test-signing-key-0123456789abcdef"
BASE_URL = "http://127.0.0.1:8000/_storage"


class SecondsClock:
    """Whole seconds since the epoch that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_storage(
    root: Path, clock: SecondsClock, events: list[dict[str, Any]] | None = None
) -> LocalStorage:
    return LocalStorage(
        root=root,
        base_url=BASE_URL,
        signer=Signer(SIGNING_KEY, clock=clock),
        on_object_created=None if events is None else events.append,
    )
