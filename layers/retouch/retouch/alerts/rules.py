"""Alert rules: what is watched, the threshold, the window, who hears it and how often.

Rules are config, versioned like the catalog: the seed (`shared/seed/alerts.json`) is
version 1, every admin change writes the next version, the highest version is in force. A
rule fires for a subject (a route, a feature, a provider, a queue; `""` for the whole
service) when the observed value is at or above its `threshold` and at least `min_samples`
observations back it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
