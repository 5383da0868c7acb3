"""Auth DTOs: request bodies (unknown fields are a 422, never applied) and the token pair."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from retouch.core.db import Row
from retouch.core.security import AccessClaims
from retouch.quota.schemas import CurrentMembership
from retouch.users.schemas import Email, ReadModel, User, UserRead

MIN_PASSWORD_LENGTH = 10
# Bounded before anything hashes it: a megabyte "password" is a 422, not a megabyte of Argon2.
MAX_PASSWORD_LENGTH = 128


class AuthRequest(BaseModel):
    # `role`, `balance` and every other unknown field are refused (mass assignment).
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterRequest(AuthRequest):
    email: Email
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)

    @field_validator("password")
    @classmethod
    def _acceptable(cls, password: str, info: ValidationInfo) -> str:
        kinds = (str.islower, str.isupper, str.isdigit)
        classes = {next((i for i, kind in enumerate(kinds) if kind(ch)), 3) for ch in password}
        if len(classes) < 2:
            raise ValueError("mix at least two of: lower case, upper case, digits, symbols")
        email = info.data.get("email")
        if isinstance(email, str) and password.lower() in {email, email.split("@")[0]}:
            raise ValueError("the password must not be the email address")
        return password


class LoginRequest(AuthRequest):
    email: Email
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class RefreshRequest(AuthRequest):
    refresh_token: str = Field(min_length=16, max_length=128)


class TokenPair(ReadModel):
    """What register, login and refresh answer."""

    user: UserRead
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret


@dataclass(frozen=True)
class Principal:
    """The caller of an authenticated request: their current record and their token."""

    user: User
    claims: AccessClaims
    membership: CurrentMembership

    @property
    def public_id(self) -> str:
        return self.user.public_id

    @property
    def role(self) -> str:
        return self.user.role


@dataclass(frozen=True, slots=True)
class CallerRecord:
    """What the caller read found: the account (None: no such user), the session's
    revocation, the membership in force, and the attached row's columns (with the caller's,
    as the statement returned them; the attachment's owner reads its prefixed columns)."""

    user: User | None
    session_revoked: bool
    membership: CurrentMembership | None
    attached: Row | None
