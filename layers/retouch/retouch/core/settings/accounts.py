"""Accounts (`retouch.auth.passwords`, `retouch.auth.signup`): the account mail's SMTP server
and sender, password reset tokens, and the limits on sign-up. The SMTP password is a secret:
this group holds only a reference to it (`retouch.core.secrets`); see docs/accounts.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from retouch.core.settings.base import SettingsGroup
from retouch.core.settings.service import STORE_REFERENCE


class AccountSettings(SettingsGroup):
    """Account mail, password resets, and the sign-up limits."""

    mail_smtp_host: str = Field("", description="SMTP server of account mail; empty: none sent")
    mail_smtp_port: int = Field(465, ge=1, le=65535, description="SMTP port of account mail")
    mail_smtp_security: Literal["ssl", "starttls", "none"] = Field(
        "ssl", description="ssl (implicit TLS), starttls, or none (the loopback sink only)"
    )
    mail_smtp_user: str = Field("", description="SMTP user of account mail; empty: no AUTH")
    mail_smtp_password_secret: str = Field(
        "", pattern=STORE_REFERENCE, description="reference to the account mail's SMTP password"
    )
    mail_from: str = Field(
        "Retouch <no-reply@retouch.local>", description="From address of account mail"
    )
    mail_send_timeout_s: float = Field(
        5.0, gt=0, le=30, description="timeout of one SMTP session of account mail"
    )
    password_reset_url: str = Field(
        "http://127.0.0.1:8000/reset-password?token=",
        min_length=1,
        description="the reset link mailed: this prefix followed by the token",
    )
    password_reset_ttl_s: int = Field(
        1800, ge=60, le=86_400, description="how long a mailed reset token can be used"
    )
    password_reset_floor_ms: int = Field(
        400,
        ge=0,
        le=5000,
        description="a reset request is answered no sooner than this, known email or not, "
        "so its timing does not tell whether the account exists",
    )
    rate_limit_password_reset_per_ip_per_hour: int = Field(
        10, ge=1, description="password reset requests per hour per client IP"
    )
    rate_limit_register_per_ip_per_hour: int = Field(
        5, ge=1, description="registrations per hour per client IP (IPv6: per /64)"
    )
    rate_limit_register_per_network_per_hour: int = Field(
        20, ge=1, description="registrations per hour per IPv4 /24 (IPv6: per /64)"
    )
    rate_limit_register_global_per_min: int = Field(
        60, ge=1, description="registrations per minute across the service (the sign-up circuit)"
    )
    password_hash_concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="password hashes (Argon2, 64 MiB each) running at once per instance; "
        "beyond it a request waits up to RETOUCH_PASSWORD_HASH_WAIT_MS, then gets a 503",
    )
    password_hash_wait_ms: int = Field(
        0, ge=0, le=10_000, description="how long a request waits for a hashing slot"
    )
