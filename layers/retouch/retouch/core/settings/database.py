"""How long the database may take, per use, and what it keeps (`retouch.core.db`,
`retouch.retention`); see docs/retention.md and docs/performance.md."""

from __future__ import annotations

from pydantic import Field

from retouch.core.settings.base import SettingsGroup


class DatabaseSettings(SettingsGroup):
    """Timeouts by use, the slow-statement threshold and the retention of each table."""

    db_request_timeout_s: float = Field(
        1.5,
        gt=0,
        le=2,
        description="MySQL read/write timeout (and handshake wait) of a user-facing request's "
        "connection: a hung server costs a request at most this long before its 503",
    )
    db_health_timeout_s: float = Field(
        0.8, gt=0, le=1, description="MySQL read/write timeout of the /health/db check"
    )
    db_statement_timeout_s: float = Field(
        1.5,
        ge=0,
        le=2,
        description="server-side limit of a user-facing read (MariaDB max_statement_time, "
        "MySQL max_execution_time); 0 turns it off",
    )
    db_slow_ms: float = Field(
        250.0,
        ge=0,
        description="a statement slower than this is logged (`slow statement`) and counted "
        "(DbSlowStatement); also the local MariaDB's long_query_time; 0 turns both off",
    )
    retention_outbox_days: float = Field(
        7, gt=0, description="outbox rows published longer ago than this are deleted"
    )
    retention_refresh_tokens_days: float = Field(
        7, ge=0, description="refresh tokens expired longer ago than this are deleted"
    )
    retention_email_verifications_days: float = Field(
        1,
        ge=0,
        description="email verification tokens expired longer ago than this are deleted (a "
        "used token with its expiry); the account itself is kept, verified or not",
    )
    retention_password_resets_days: float = Field(
        1,
        ge=0,
        description="password reset tokens expired longer ago than this are deleted (a used "
        "token with its expiry)",
    )
    retention_audit_days: float = Field(
        365,
        gt=0,
        description="audit rows older than this are archived to object storage (gzip "
        "JSON lines under archive/audit_logs/), then deleted",
    )
    retention_batch_rows: int = Field(
        1000, ge=1, le=10_000, description="rows one retention transaction deletes at most"
    )
    retention_max_batches: int = Field(
        200, ge=1, description="batches per table one retention run deletes at most"
    )
