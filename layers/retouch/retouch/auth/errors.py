"""Authentication failures (codes in retouch.core.errors.REGISTRY)."""

from __future__ import annotations

from retouch.core.errors import Unauthenticated


class InvalidCredentials(Unauthenticated):
    """Wrong email or password, or a disabled account: one answer, so nobody learns which."""

    def __init__(self) -> None:
        super().__init__("Wrong email or password")


class InvalidRefreshToken(Unauthenticated):
    """Unknown, expired, revoked or spent refresh token; sign in again."""

    def __init__(self) -> None:
        super().__init__("The refresh token is invalid; sign in again")
