"""Why a request's caller is refused (codes in retouch.core.errors.REGISTRY)."""

from __future__ import annotations

from retouch.core.errors import Unauthenticated


class RevokedAccessToken(Unauthenticated):
    """The access token was signed out (its `jti` or its session is on the deny list)."""

    def __init__(self) -> None:
        super().__init__("The access token has been revoked")


class InactiveAccount(Unauthenticated):
    """The token is valid but its user no longer exists or is disabled."""

    def __init__(self) -> None:
        super().__init__("The account is not active")
