"""The audit rows of sign-in events: failed logins, refresh-token reuse, sign-outs, password
resets and changes, address verifications.

Written in a transaction of their own use case's, like every audit row; none holds a
password or a token. A failed login names the account when it exists, else the email masked
(`a***@example.com`): enough to see one address being tried, not to list addresses.
"""

from __future__ import annotations

from typing import Any

from retouch.audit.repository import MySQLAuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.core.db import UnitOfWork
from retouch.core.identity import User

LOGIN_FAILED = "auth.login_failed"
REFRESH_REUSE = "auth.refresh_reuse"
LOGOUT = "auth.logout"
PASSWORD_RESET = "auth.password_reset"  # noqa: S105 - an audit action
PASSWORD_CHANGE = "auth.password_change"  # noqa: S105 - an audit action
EMAIL_VERIFIED = "auth.email_verified"
_TARGET_ID_LENGTH = 64


def mask_email(email: str) -> str:
    """`alice@example.com` → `a***@example.com`, cut to the audit's target id length."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"[:_TARGET_ID_LENGTH]


def login_failed(
    uow: UnitOfWork, *, email: str, account: User | None, reason: str, client_ip: str
) -> None:
    """An anonymous row: nobody proved who they are. `reason` is for admins only."""
    after = {"reason": reason, "client_ip": client_ip}
    if account is None:
        _add(uow, None, LOGIN_FAILED, "email", mask_email(email), after)
    else:
        _add(uow, None, LOGIN_FAILED, "user", account.public_id, after)


def refresh_reused(
    uow: UnitOfWork, *, owner: User, session_id: str, revoked: int, client_ip: str
) -> None:
    """A spent refresh token came back and its session was revoked; whoever presented it is
    unknown (the owner or a thief), so the row has no actor."""
    after = {"session": session_id, "revoked_tokens": revoked, "client_ip": client_ip}
    _add(uow, None, REFRESH_REUSE, "user", owner.public_id, after)


def logged_out(uow: UnitOfWork, *, user: User, session_id: str) -> None:
    _add(uow, user.id, LOGOUT, "user", user.public_id, {"session": session_id})


def password_set(uow: UnitOfWork, *, user: User, action: str, revoked: int) -> None:
    """A reset (no actor: a mailed token proved it) or a change (the user), with how many
    refresh tokens it revoked."""
    actor = user.id if action == PASSWORD_CHANGE else None
    _add(uow, actor, action, "user", user.public_id, {"revoked_tokens": revoked})


def email_verified(uow: UnitOfWork, *, user: User, granted: int) -> None:
    """The address was proved (no actor: a mailed token proved it), with the credits its
    period grants opened with."""
    _add(uow, None, EMAIL_VERIFIED, "user", user.public_id, {"granted_credits": granted})


def _add(
    uow: UnitOfWork,
    actor_user_id: int | None,
    action: str,
    target_type: str,
    target_id: str,
    after: dict[str, Any],
) -> None:
    MySQLAuditRepository(uow).add(
        AuditEntry(
            actor_user_id=actor_user_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            after=after,
        )
    )
