"""Email verification (`retouch.auth.verification`): the mailed link, how long its token
lasts, the credits an unverified account may spend, and the limit on resends; see
docs/accounts.md ("Email verification")."""

from __future__ import annotations

from pydantic import Field

from retouch.core.settings.base import SettingsGroup


class VerificationSettings(SettingsGroup):
    """Email verification links and what an unverified account may do."""

    email_verification_url: str = Field(
        "http://127.0.0.1:8000/verify-email?token=",
        min_length=1,
        description="the verification link mailed: this prefix followed by the token",
    )
    email_verification_ttl_s: int = Field(
        86_400, ge=300, le=604_800, description="how long a mailed verification token can be used"
    )
    email_verification_floor_ms: int = Field(
        400,
        ge=0,
        le=5000,
        description="a resend request is answered no sooner than this, known email or not",
    )
    unverified_allowance: int = Field(
        0,
        ge=0,
        le=1000,
        description="credits a new account may spend before its email is verified; with 0, "
        "task creation refuses it with 403 EMAIL_NOT_VERIFIED",
    )
    unverified_ttl_days: int = Field(
        7,
        ge=0,
        le=365,
        description="an account still unverified this many days after its sign-up is deleted "
        "and erased by the hourly retention run; 0 keeps unverified accounts",
    )
    rate_limit_verification_resend_per_ip_per_hour: int = Field(
        10, ge=1, description="verification mail resends per hour per client IP"
    )
    rate_limit_verification_code_per_email_per_hour: int = Field(
        10, ge=1, description="verification codes tried per hour per address"
    )
