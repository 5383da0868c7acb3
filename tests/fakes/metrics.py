"""An in-memory `MetricsSink`: what was recorded, and what each flush delivered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Value = tuple[str, float, str, dict[str, str]]


@dataclass
class MemorySink:
    """Keeps records until `flush`, which moves them to `flushed` (one list per flush);
    `failing` makes every flush raise after delivering nothing."""

    pending: list[Value] = field(default_factory=list)
    flushed: list[list[Value]] = field(default_factory=list)
    failing: bool = False

    def record(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        self.pending.append((name, value, unit, dict(dimensions)))

    def flush(self) -> None:
        if self.failing:
            raise ConnectionError("metrics backend unreachable")
        batch, self.pending = self.pending, []
        self.flushed.append(batch)

    def delivered(self) -> list[Value]:
        return [value for batch in self.flushed for value in batch]
