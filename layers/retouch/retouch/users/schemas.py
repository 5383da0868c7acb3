"""User DTOs, the internal user record and the shared constrained types."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, model_validator

from retouch.core.identity import AccessStatus, User, UserStatus
from retouch.core.permissions import Role
from retouch.core.schemas import Schema, StrictRequestSchema

MAX_PAGE_SIZE = 100

# The shape of an address (no deliverability check: a confirmation mail is the real test):
# dot-separated atoms, then a domain. The OpenAPI document carries the same pattern, so a
# client's validation agrees with the server's; the server also holds the part before the `@`
# to RFC 5321's 64 characters (said in the field's description: a pattern cannot count it).
_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
MAX_LOCAL_PART = 64
EMAIL_PATTERN = (
    rf"^{_ATOM}{{1,64}}(?:\.{_ATOM}{{1,64}}){{0,8}}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,4}[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]$"
)
_EMAIL = re.compile(EMAIL_PATTERN)


def normalise_email(value: object) -> object:
    """Trim and lower-case, so one address has one account whatever the client typed."""
    return value.strip().lower() if isinstance(value, str) else value


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value) or len(value.partition("@")[0]) > MAX_LOCAL_PART:
        raise ValueError("not a valid email address")
    return value


Email = Annotated[
    str,
    BeforeValidator(normalise_email),
    Field(
        min_length=3,
        max_length=254,
        description="an email address; at most 64 characters before the `@`",
        json_schema_extra={"pattern": EMAIL_PATTERN},
    ),
    AfterValidator(_check_email),
]
PublicUserId = Annotated[str, Field(pattern=r"^usr_[A-Za-z0-9_-]{10,40}$")]


class UserRead(Schema):
    """A user as the user sees themself."""

    id: str
    email: str
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserRead:
        return cls(id=user.public_id, email=user.email, role=user.role, created_at=user.created_at)


class MembershipRead(Schema):
    plan: str
    expires_at: datetime | None


class MeRead(UserRead):
    """`GET /v1/me`: the profile with whether the address is verified and the membership in
    force."""

    email_verified: bool
    membership: MembershipRead


class UserAdminRead(UserRead):
    """A user as operators and admins see them."""

    status: UserStatus
    updated_at: datetime

    @classmethod
    def of(cls, user: User) -> UserAdminRead:
        return cls(
            id=user.public_id,
            email=user.email,
            role=user.role,
            status=user.status,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class UserPage(Schema):
    items: list[UserAdminRead]
    next_cursor: str | None


class UserPatch(StrictRequestSchema):
    """`PATCH /v1/admin/users/{id}`: only these fields exist; anything else is a 422."""

    role: Role | None = None
    status: AccessStatus | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UserPatch:
        if self.role is None and self.status is None:
            raise ValueError("give role, status or both")
        return self


class CreditGrant(StrictRequestSchema):
    """`POST /v1/admin/users/{id}/credits`."""

    amount: int = Field(ge=1, le=1_000_000)
    reason: str = Field(min_length=1, max_length=200)


class CreditGrantRead(Schema):
    user_id: str
    amount: int
    balance: int


class MembershipChange(StrictRequestSchema):
    """`PATCH /v1/admin/users/{id}/membership`: the plan from now, until `expires_at` (null:
    open-ended; the default plan never expires), and why."""

    plan: str = Field(min_length=1, max_length=32)
    # An ISO 8601 string with its offset: the one field of an admin body read from a string.
    expires_at: Annotated[AwareDatetime | None, Field(strict=False)] = None
    reason: str = Field(min_length=1, max_length=200)


class MembershipChangeRead(Schema):
    user_id: str
    membership: MembershipRead
