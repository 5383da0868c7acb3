"""Account deletion failures (codes in retouch.core.errors.REGISTRY)."""

from __future__ import annotations

from retouch.core.errors import AppError


class PasswordNotConfirmed(AppError):
    """The password sent to confirm a deletion is not the account's: nothing was deleted. It
    counts as a failed sign-in (the account's lockout applies), and says nothing more."""

    code = "PASSWORD_NOT_CONFIRMED"

    def __init__(self) -> None:
        super().__init__("The password is wrong; the account was not deleted")
