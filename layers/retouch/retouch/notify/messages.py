"""Alert messages as the notifiers send them: one `AlertMessage`, rendered as markdown for the
robots and as plain text for email, in Chinese or English."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

#: `firing`: the first notification; `repeat`: still firing after the cooldown; `resolved`.
Phase = Literal["firing", "repeat", "resolved"]
Language = Literal["zh-CN", "en"]

_PHASES: dict[Language, dict[Phase, str]] = {
    "zh-CN": {"firing": "告警", "repeat": "持续告警", "resolved": "已恢复"},
    "en": {"firing": "ALERT", "repeat": "STILL FIRING", "resolved": "RESOLVED"},
}
_LABELS: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "rule": "规则",
        "subject": "对象",
        "value": "当前值",
        "threshold": "阈值",
        "since": "开始于",
        "severity": "级别",
    },
    "en": {
        "rule": "Rule",
        "subject": "Subject",
        "value": "Value",
        "threshold": "Threshold",
        "since": "Since",
        "severity": "Severity",
    },
}


class NotifierError(Exception):
    """A notifier could not deliver (network, refused, an error answer): retried next run.
    The message names the channel and the failure, never a URL or a secret."""


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """What one notification says about one rule and subject."""

    phase: Phase
    rule: str
    summary: str
    subject: str
    value: float | None
    threshold: float
    severity: str
    since: datetime
    language: Language = "zh-CN"

    @property
    def title(self) -> str:
        """`[告警] <summary>` / `[ALERT] <summary>` (and the subject, when there is one)."""
        subject = f" · {self.subject}" if self.subject else ""
        return f"[{_PHASES[self.language][self.phase]}] {self.summary}{subject}"

    def fields(self) -> list[tuple[str, str]]:
        """The labelled lines of the body, in the message's language."""
        labels = _LABELS[self.language]
        value = "—" if self.value is None else f"{self.value:g}"
        rows = [
            (labels["rule"], self.rule),
            (labels["subject"], self.subject or "—"),
            (labels["value"], value),
            (labels["threshold"], f"{self.threshold:g}"),
            (labels["severity"], self.severity),
            (labels["since"], self.since.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ]
        return rows

    def markdown(self) -> str:
        """The robots' markdown: a heading, then one bullet per field."""
        lines = [f"### {self.title}", ""]
        lines += [f"- **{label}**: {value}" for label, value in self.fields()]
        return "\n".join(lines)

    def plain_text(self) -> str:
        """The email body: the title, then one `label: value` line per field."""
        lines = [self.title, ""]
        lines += [f"{label}: {value}" for label, value in self.fields()]
        return "\n".join(lines) + "\n"


class Notifier(Protocol):
    """One channel alerts go to; `send` raises `NotifierError` when it did not deliver."""

    channel: str

    def send(self, message: AlertMessage) -> None: ...
