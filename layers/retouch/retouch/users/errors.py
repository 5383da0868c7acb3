"""User failures (codes in retouch.core.errors.REGISTRY)."""

from __future__ import annotations

from retouch.core.errors import AppError, Forbidden, NotFound


class EmailTaken(Exception):
    """An insert of an address that already has an account. Never answered as such: register
    mails the owner instead and answers as for a new address (no account enumeration)."""


class EmailNotVerified(AppError):
    """The caller's address is not verified, and an unverified account may not do this
    (`RETOUCH_UNVERIFIED_ALLOWANCE` is 0: docs/accounts.md, "Email verification")."""

    code = "EMAIL_NOT_VERIFIED"

    def __init__(self) -> None:
        super().__init__("Verify your email address first: open the link in the mail we sent")


class UserNotFound(NotFound):
    """No user has this public id."""


class CannotChangeOwnAccess(Forbidden):
    """An admin tried to change their own role or status (that is how the last admin locks
    everyone out); another admin must do it."""
