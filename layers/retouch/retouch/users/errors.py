"""User failures (codes in retouch.core.errors.REGISTRY)."""

from __future__ import annotations

from retouch.core.errors import AppError, Forbidden, NotFound


class EmailTaken(AppError):
    """Registration with an address that already has an account."""

    code = "EMAIL_TAKEN"


class UserNotFound(NotFound):
    """No user has this public id."""


class CannotChangeOwnAccess(Forbidden):
    """An admin tried to change their own role or status (that is how the last admin locks
    everyone out); another admin must do it."""
