"""Alert rules: what is watched, the threshold, the window, who hears it and how often.

Rules are config, versioned like the catalog: the seed (`shared/seed/alerts.json`) is
version 1, every admin change writes the next version, the highest version is in force. A
rule fires for a subject (a route, a feature, a provider, a queue; `""` for the whole
service) when the observed value is at or above its `threshold` and at least `min_samples`
observations back it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

RuleKind = Literal[
    "http_5xx_rate",
    "http_p95_latency_ms",
    "task_failure_rate_feature",
    "task_failure_rate_provider",
    "dlq_depth",
    "oldest_step_age_s",
    "outbox_backlog",
    "provider_breaker_open",
    "credit_anomaly",
    "backup_failed",
    "db_down",
    "redis_down",
]
#: The thresholds a rule of each kind may have: a rate is a fraction of 1, a yes/no input
#: (breaker open, store down) observes 1, so its threshold is 1; the others are counts,
#: milliseconds, seconds or a ratio.
THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "http_5xx_rate": (0.001, 1),
    "http_p95_latency_ms": (1, 600_000),
    "task_failure_rate_feature": (0.001, 1),
    "task_failure_rate_provider": (0.001, 1),
    "dlq_depth": (1, 1_000_000),
    "oldest_step_age_s": (1, 7 * 86_400),
    "outbox_backlog": (1, 10_000_000),
    "provider_breaker_open": (1, 1),
    "credit_anomaly": (1, 1_000),
    "backup_failed": (1, 1_000),
    "db_down": (1, 1),
    "redis_down": (1, 1),
}
Channel = Literal["dingtalk", "wecom", "email"]
CHANNELS: tuple[Channel, ...] = ("dingtalk", "wecom", "email")


class AlertRule(BaseModel):
    """One rule. `window_s` is how far back its input looks; `cooldown_s` how long a firing
    alert stays quiet before it is repeated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    kind: RuleKind
    summary_zh: str = Field(min_length=1, max_length=120)
    summary_en: str = Field(min_length=1, max_length=120)
    threshold: float = Field(ge=0)
    window_s: int = Field(default=300, ge=60, le=86_400)
    min_samples: int = Field(default=0, ge=0, le=1_000_000)
    cooldown_s: int = Field(default=1800, ge=60, le=7 * 86_400)
    severity: Literal["critical", "warning"] = "warning"
    channels: tuple[Channel, ...] = Field(default=CHANNELS, min_length=1)
    enabled: bool = True

    @field_validator("threshold")
    @classmethod
    def _threshold_in_range(cls, threshold: float, info: ValidationInfo) -> float:
        """Within THRESHOLD_RANGES for the rule's kind (a bad kind is refused on its own)."""
        low, high = THRESHOLD_RANGES.get(info.data.get("kind", ""), (0, float("inf")))
        if not low <= threshold <= high:
            raise ValueError("The threshold is out of range for the rule's kind")
        return threshold

    def fires(self, value: float | None, samples: int) -> bool:
        """At or above the threshold, with enough samples behind it."""
        return value is not None and samples >= self.min_samples and value >= self.threshold

    def summary(self, language: str) -> str:
        return self.summary_zh if language == "zh-CN" else self.summary_en


class RuleSet(BaseModel):
    """A version's rules; their keys are unique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[AlertRule] = Field(max_length=200)

    @model_validator(mode="after")
    def _unique_keys(self) -> RuleSet:
        keys = [rule.key for rule in self.rules]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"rule keys must be unique: {', '.join(duplicates)}")
        return self

    def by_key(self) -> dict[str, AlertRule]:
        return {rule.key: rule for rule in self.rules}
