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


class RevokedAccessToken(Unauthenticated):
    """The access token was signed out (its `jti` or its session is on the deny list)."""

    def __init__(self) -> None:
        super().__init__("The access token has been revoked")


class InactiveAccount(Unauthenticated):
    """The token is valid but its user no longer exists or is disabled."""

    def __init__(self) -> None:
        super().__init__("The account is not active")
