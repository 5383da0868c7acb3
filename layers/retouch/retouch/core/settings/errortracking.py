"""Error tracking (`retouch.core.errortracking`, Sentry): off unless a DSN is given."""

from __future__ import annotations

from pydantic import Field, SecretStr

from retouch.core.settings.base import SettingsGroup
from retouch.core.settings.service import STORE_REFERENCE


class ErrorTrackingSettings(SettingsGroup):
    """Where unhandled errors are reported, tagged how, and how many."""

    sentry_dsn: SecretStr = Field(
        SecretStr(""), description="Sentry DSN (local stack, tests); empty: off"
    )
    sentry_dsn_secret: str = Field(
        "",
        pattern=STORE_REFERENCE,
        description="reference to the secret holding the Sentry DSN, instead of RETOUCH_SENTRY_DSN",
    )
    sentry_environment: str = Field(
        "", max_length=64, description="environment tag (default: RETOUCH_STAGE)"
    )
    sentry_release: str = Field(
        "", max_length=200, description="release tag (default: retouch@<version>)"
    )
    sentry_sample_rate: float = Field(1.0, ge=0, le=1, description="share of errors sent to Sentry")
    sentry_traces_sample_rate: float = Field(
        0.0, ge=0, le=1, description="share of transactions traced (0: no tracing)"
    )
