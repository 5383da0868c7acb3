"""The CAPTCHA on sign-up (`retouch.auth.captcha`): off by default; with a provider, which
routes ask for a token, the site key a client shows the widget with, and where the provider's
secret is read (a reference through `retouch.core.secrets`, never the secret itself); see
docs/accounts.md ("CAPTCHA")."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from retouch.core.settings.base import SettingsGroup
from retouch.core.settings.service import STORE_REFERENCE

#: A route a CAPTCHA can guard (`RETOUCH_CAPTCHA_ROUTES`).
CaptchaRoute = Literal["register", "password_forgot", "verify_resend"]
_HCAPTCHA_SITE_KEY = re.compile(r"[A-Za-z0-9-]{1,64}")
_TENCENT_APP_ID = re.compile(r"[1-9][0-9]{0,19}")


def _register_only() -> list[CaptchaRoute]:
    return ["register"]


class CaptchaSettings(SettingsGroup):
    """The CAPTCHA provider, its keys and the routes it guards (the provider is declared
    first: the validators of the keys read it)."""

    captcha_provider: Literal["off", "hcaptcha", "tencent"] = Field(
        "off",
        description="off (no CAPTCHA asked), hcaptcha, or tencent (Tencent Cloud Captcha)",
    )

    @field_validator("captcha_provider", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        # A deploy passes every variable, set or not (deploy/tencent.yml): empty is off.
        return "off" if value == "" else value

    captcha_site_key: str = Field(
        "",
        validate_default=True,
        description="the public key the client's widget uses: hCaptcha's sitekey, or Tencent "
        "Captcha's CaptchaAppId (digits); required with a provider",
    )
    captcha_secret: str = Field(
        "",
        pattern=STORE_REFERENCE,
        validate_default=True,
        description="reference to the provider's secret (hCaptcha's secret key, Tencent "
        "Captcha's AppSecretKey): tcssm:<name>, secretsmanager:<name or ARN>, ssm:/<path> or "
        "env:RETOUCH_SECRET_<NAME>; required with a provider",
    )
    captcha_routes: list[CaptchaRoute] = Field(
        default_factory=_register_only,
        description="the routes that ask for a token (comma-separated): register, "
        "password_forgot, verify_resend",
    )
    captcha_hostnames: list[str] = Field(
        default_factory=list,
        description="hCaptcha only: the sites a token must have been solved on (its answer's "
        "hostname; comma-separated, e.g. app.example.com); empty: any",
    )
    captcha_timeout_s: float = Field(
        3.0, gt=0, le=10, description="timeout of one call to the provider's verification API"
    )
    captcha_endpoint: str = Field(
        "",
        pattern=r"^(https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._/-]*)?)?$",
        description="the provider's verification URL; empty: the vendor's own "
        "(https://api.hcaptcha.com/siteverify, https://captcha.tencentcloudapi.com)",
    )

    @field_validator("captcha_site_key")
    @classmethod
    def _check_site_key(cls, key: str, info: ValidationInfo) -> str:
        provider = info.data.get("captcha_provider", "off")
        if provider == "hcaptcha" and not _HCAPTCHA_SITE_KEY.fullmatch(key):
            raise ValueError("hcaptcha needs its sitekey (letters, digits and -)")
        if provider == "tencent" and not _TENCENT_APP_ID.fullmatch(key):
            raise ValueError("tencent needs the CaptchaAppId (digits)")
        return key

    @field_validator("captcha_secret")
    @classmethod
    def _check_secret(cls, reference: str, info: ValidationInfo) -> str:
        if info.data.get("captcha_provider", "off") != "off" and not reference:
            raise ValueError("a CAPTCHA provider needs the reference to its secret")
        return reference

    @field_validator("captcha_routes", "captcha_hostnames", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value
