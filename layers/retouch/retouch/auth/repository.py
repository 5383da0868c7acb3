"""Refresh tokens (MySQL, the source of truth for sessions) and the access-token deny list
(Redis, each entry expiring when the tokens it denies would have expired anyway)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retouch.core.db import Row, UnitOfWork
from retouch.core.redis import RedisClient
from retouch.core.time import from_db, to_db

_BY_HASH = (
    "SELECT id, family_id, parent_id, user_id, expires_at, used_at, revoked_at "
    "FROM refresh_tokens WHERE token_hash = %s FOR UPDATE"
)
_BY_PARENT = (
    "SELECT id, family_id, parent_id, user_id, expires_at, used_at, revoked_at "
    "FROM refresh_tokens WHERE parent_id = %s"
)


@dataclass(frozen=True)
class RefreshToken:
    """A `refresh_tokens` row (the token itself is never stored, only its digest)."""

    id: int
    family_id: str
    parent_id: int | None
    user_id: int
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def _optional_time(value: datetime | None) -> datetime | None:
    return None if value is None else from_db(value)


def _token(row: Row) -> RefreshToken:
    return RefreshToken(
        id=int(row["id"]),
        family_id=row["family_id"],
        parent_id=None if row["parent_id"] is None else int(row["parent_id"]),
        user_id=int(row["user_id"]),
        expires_at=from_db(row["expires_at"]),
        used_at=_optional_time(row["used_at"]),
        revoked_at=_optional_time(row["revoked_at"]),
    )


class MySQLRefreshTokenRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self,
        *,
        token_hash: str,
        family_id: str,
        parent_id: int | None,
        user_id: int,
        issued_at: datetime,
        expires_at: datetime,
    ) -> int:
        self._uow.execute(
            "INSERT INTO refresh_tokens "
            "(token_hash, family_id, parent_id, user_id, issued_at, expires_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (token_hash, family_id, parent_id, user_id, to_db(issued_at), to_db(expires_at)),
        )
        return self._uow.last_insert_id()

    def get_for_update(self, token_hash: str) -> RefreshToken | None:
        """The token with this digest, locked: concurrent refreshes of it queue up here."""
        row = self._uow.fetch_one(_BY_HASH, (token_hash,))
        return None if row is None else _token(row)

    def child_of(self, token_id: int) -> RefreshToken | None:
        """The token that replaced `token_id` when it was rotated."""
        row = self._uow.fetch_one(_BY_PARENT, (token_id,))
        return None if row is None else _token(row)

    def mark_used(self, token_id: int, *, at: datetime) -> bool:
        return (
            self._uow.execute(
                "UPDATE refresh_tokens SET used_at = %s "
                "WHERE id = %s AND used_at IS NULL AND revoked_at IS NULL",
                (to_db(at), token_id),
            )
            == 1
        )

    def revoke_family(self, family_id: str, *, at: datetime) -> int:
        return self._uow.execute(
            "UPDATE refresh_tokens SET revoked_at = %s WHERE family_id = %s AND revoked_at IS NULL",
            (to_db(at), family_id),
        )

    def revoke_all_of_user(self, user_id: int, *, at: datetime) -> int:
        return self._uow.execute(
            "UPDATE refresh_tokens SET revoked_at = %s WHERE user_id = %s AND revoked_at IS NULL",
            (to_db(at), user_id),
        )


class RedisDenyList:
    """Access tokens refused before their expiry: by `jti` (this token) or by session (every
    access token issued with one refresh family). One round trip to check both."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    @staticmethod
    def _token_key(jti: str) -> str:
        return f"auth:deny:jti:{jti}"

    @staticmethod
    def _session_key(session_id: str) -> str:
        return f"auth:deny:sid:{session_id}"

    def deny(self, *, jti: str | None, jti_ttl_s: int, session_id: str, session_ttl_s: int) -> None:
        pipeline = self._redis.pipeline(transaction=False)
        if jti is not None:
            pipeline.set(self._token_key(jti), "1", ex=jti_ttl_s)
        pipeline.set(self._session_key(session_id), "1", ex=session_ttl_s)
        pipeline.execute()

    def is_denied(self, *, jti: str, session_id: str) -> bool:
        denied = self._redis.exists(self._token_key(jti), self._session_key(session_id))
        return int(denied) > 0
