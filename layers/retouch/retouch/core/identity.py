"""Who is calling: the account record, the membership in force and the `Principal` every
authenticated use case receives. Plain dataclasses at the bottom of the layer, so any domain
can take a caller without importing auth (which reads it), users (which owns the accounts)
or quota (which owns the memberships)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from retouch.core.permissions import Role

if TYPE_CHECKING:  # the token machinery (PyJWT) is not needed to hold a caller
    from retouch.core.security import AccessClaims

#: `deleting`: the owner deleted the account and its erasure is pending; `deleted`: the row
#: that keeps an erased account's anonymised ledger and orders (retouch.erasure).
UserStatus = Literal["active", "disabled", "deleting", "deleted"]
#: The statuses an admin sets (`PATCH /v1/admin/users/{id}`).
AccessStatus = Literal["active", "disabled"]


@dataclass(frozen=True)
class User:
    """A `users` row. Internal: `id` and `password_hash` never leave the server."""

    id: int
    public_id: str
    email: str
    password_hash: str
    role: Role
    status: UserStatus
    created_at: datetime
    updated_at: datetime
    # When the owner proved the address (None: not yet; auth.verification). A record built
    # without reading the column counts as unverified: the check fails closed.
    email_verified_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


@dataclass(frozen=True, slots=True)
class CurrentMembership:
    """The code of the plan a caller holds now and when it ends; read with the caller."""

    plan_code: str
    expires_at: datetime | None


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
