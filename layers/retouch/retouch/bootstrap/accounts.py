"""Accounts made by an operator, not by a sign-up: `scripts/admin create` on this machine, and
the migrate function's one-off `{"create_admin": {...}}` invocation on the clouds.

`create_account` makes the account with the given role, or gives an existing account that
role, in one transaction with an audit row whose actor is empty (no user did it) and whose
state names the tool (`by`). It is idempotent: an account that has the role already is left
as it is, with no second row. A new account's password is the one given, or 256 random bits
nobody knows: its owner sets one through the password reset mail (docs/accounts.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from retouch.audit.repository import MySQLAuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.caller.cached import forget_caller
from retouch.core.db import UnitOfWork, get_database
from retouch.core.identity import User
from retouch.core.ids import new_public_id
from retouch.core.permissions import ROLES, Role
from retouch.core.security import hash_password, new_opaque_token
from retouch.core.time import utc_now
from retouch.quota.service import open_account
from retouch.users.errors import EmailTaken
from retouch.users.repository import MySQLUserRepository
from retouch.users.schemas import Email

_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


def create_account(
    *, email: str, role: str = "admin", password: str | None = None, by: str
) -> dict[str, Any]:
    """Make `email` an account with `role`; answers {outcome, user_id, role}, the outcome
    `created`, `role changed` or `unchanged`. ValueError for a bad email or role."""
    address = _EMAIL.validate_python(email)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    password_hash = hash_password(password or new_opaque_token())
    try:
        return _apply(address, role, password_hash, by)
    except EmailTaken:  # registered meanwhile: now it exists, give it the role
        return _apply(address, role, password_hash, by)


def _apply(email: str, role: Role, password_hash: str, by: str) -> dict[str, Any]:
    with get_database("job").unit_of_work() as uow:
        users = MySQLUserRepository(uow)
        user = users.get_by_email(email)
        if user is None:
            user = users.add(
                public_id=new_public_id("usr"),
                email=email,
                password_hash=password_hash,
                now=utc_now(),
                verified=True,  # the operator vouches for the address
            )
            open_account(uow=uow, user_id=user.id)
            users.update_access(user.id, role=role, status="active")
            _audit(uow, "user.create_by_operator", user, None, {"role": role, "by": by})
            outcome = "created"
        elif user.role == role:
            return {"outcome": "unchanged", "user_id": user.public_id, "role": role}
        else:
            users.update_access(user.id, role=role, status=user.status)
            before = {"role": user.role}
            _audit(uow, "user.role_by_operator", user, before, {"role": role, "by": by})
            outcome = "role changed"
        uow.commit()
    forget_caller(user.public_id)
    return {"outcome": outcome, "user_id": user.public_id, "role": role}


def _audit(
    uow: UnitOfWork,
    action: str,
    user: User,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    MySQLAuditRepository(uow).add(
        AuditEntry(
            actor_user_id=None,
            action=action,
            target_type="user",
            target_id=user.public_id,
            before=before,
            after=after,
        )
    )
