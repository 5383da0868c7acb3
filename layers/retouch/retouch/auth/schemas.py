"""Auth DTOs: request bodies (unknown fields are a 422, never applied) and the token pair."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from fastapi import Header
from pydantic import Field, ValidationInfo, field_validator, model_validator

from retouch.core.schemas import RequestSchema, Schema
from retouch.core.settings.captcha import CaptchaRoute
from retouch.users.schemas import Email, UserRead

MIN_PASSWORD_LENGTH = 10
# Bounded before anything hashes it: a megabyte "password" is a 422, not a megabyte of Argon2.
MAX_PASSWORD_LENGTH = 128
# At least two kinds of character among lower case, upper case, digits and the rest (symbols):
# a run of the first character's kind, then one of another kind. In the OpenAPI document too.
CHARACTER_MIX_PATTERN = (
    r"^(?:[a-z]+[^a-z]|[A-Z]+[^A-Z]|[0-9]+[^0-9]|[^a-zA-Z0-9]+[a-zA-Z0-9])[\s\S]*$"
)
_CHARACTER_MIX = re.compile(CHARACTER_MIX_PATTERN)
CHARACTER_MIX_RULE = "mix at least two of: lower case, upper case, digits, symbols"


def _new_password(description: str = CHARACTER_MIX_RULE) -> Any:
    return Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description=description,
        json_schema_extra={"pattern": CHARACTER_MIX_PATTERN},
    )


def _mixed(password: str) -> str:
    if not _CHARACTER_MIX.match(password):
        raise ValueError(CHARACTER_MIX_RULE)
    return password


class RegisterRequest(RequestSchema):
    email: Email
    password: str = _new_password(f"{CHARACTER_MIX_RULE}; not the email address")

    @field_validator("password")
    @classmethod
    def _acceptable(cls, password: str, info: ValidationInfo) -> str:
        _mixed(password)
        email = info.data.get("email")
        if isinstance(email, str) and password.lower() in {email, email.split("@")[0]}:
            raise ValueError("the password must not be the email address")
        return password


class LoginRequest(RequestSchema):
    email: Email
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class RefreshRequest(RequestSchema):
    refresh_token: str = Field(min_length=16, max_length=128)


class ResetRequest(RequestSchema):
    email: Email


class PasswordReset(RequestSchema):
    token: str = Field(min_length=16, max_length=128, description="the token of the mailed link")
    password: str = _new_password()

    _acceptable = field_validator("password")(_mixed)


class EmailVerification(RequestSchema):
    """The proof of an address: the token of the mailed link, or the address with the code
    of the same mail."""

    token: str | None = Field(
        default=None, min_length=16, max_length=128, description="the token of the mailed link"
    )
    email: Email | None = None
    code: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}$",
        description="the 8-character code of the mail, as ABCD-EFGH or ABCDEFGH",
    )

    @model_validator(mode="after")
    def _one_proof(self) -> EmailVerification:
        by_code = self.email is not None and self.code is not None
        if (self.token is None) == (not by_code) or (self.token and (self.email or self.code)):
            raise ValueError("give the token, or the email and the code")
        return self


class VerificationResend(RequestSchema):
    email: Email


class RegistrationAccepted(Schema):
    """What register answers, whether the address was new or had an account: the next step
    is in the mail."""

    status: Literal["verification_sent"] = "verification_sent"


class CaptchaConfig(Schema):
    """The CAPTCHA a client shows before the routes that ask for one (none while off)."""

    #: Browsers and CDNs may reuse the answer this long; a changed setting reaches them after.
    MAX_AGE_S: ClassVar[int] = 300

    kind: Literal["off", "hcaptcha", "tencent"] = Field(
        description="off (no token asked), hcaptcha, or tencent (Tencent Cloud Captcha)"
    )
    site_key: str | None = Field(
        description="the widget's public key: hCaptcha's sitekey, Tencent's CaptchaAppId"
    )
    required_for: list[CaptchaRoute] = Field(
        description="the routes that ask for a token: register (POST /v1/auth/register), "
        "password_forgot (POST /v1/auth/password/forgot), verify_resend "
        "(POST /v1/auth/verify/resend)"
    )


class CaptchaProof:
    """The CAPTCHA token a request carries, in headers (the bodies stay the same whether a
    CAPTCHA is on or off): ignored on a route that asks for none."""

    def __init__(
        self,
        token: Annotated[
            str | None,
            Header(
                alias="X-Captcha-Token",
                max_length=8192,
                description="the solved CAPTCHA's token (hCaptcha's response, Tencent's "
                "ticket), when GET /v1/auth/captcha names this route",
            ),
        ] = None,
        randstr: Annotated[
            str | None,
            Header(
                alias="X-Captcha-Randstr",
                max_length=128,
                description="Tencent Captcha's randstr, sent with its ticket",
            ),
        ] = None,
    ) -> None:
        self.token = token
        self.randstr = randstr


class PasswordChange(RequestSchema):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = _new_password(f"{CHARACTER_MIX_RULE}; not the current password")

    @field_validator("new_password")
    @classmethod
    def _acceptable(cls, password: str, info: ValidationInfo) -> str:
        _mixed(password)
        if password == info.data.get("current_password"):
            raise ValueError("the new password must differ from the current one")
        return password


class TokenPair(Schema):
    """What verification, login and refresh answer."""

    user: UserRead
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
