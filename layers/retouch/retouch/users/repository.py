"""SQL for users. Parameterised statements only; nothing here commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pymysql

from retouch.caller.repository import user_from_row
from retouch.core.db import UnitOfWork
from retouch.core.db_connect import is_duplicate
from retouch.core.identity import User, UserStatus
from retouch.core.permissions import Role
from retouch.core.time import to_db
from retouch.users.errors import EmailTaken

_BY_EMAIL = (
    "SELECT id, public_id, email, password_hash, role, status, created_at, updated_at, "
    "email_verified_at "
    "FROM users WHERE email = %s"
)
_BY_PUBLIC_ID = (
    "SELECT id, public_id, email, password_hash, role, status, created_at, updated_at, "
    "email_verified_at "
    "FROM users WHERE public_id = %s"
)
_BY_PUBLIC_ID_FOR_UPDATE = _BY_PUBLIC_ID + " FOR UPDATE"
_BY_ID = (
    "SELECT id, public_id, email, password_hash, role, status, created_at, updated_at, "
    "email_verified_at "
    "FROM users WHERE id = %s"
)
_BY_ID_FOR_UPDATE = _BY_ID + " FOR UPDATE"

# One statement for every filter combination: pymysql binds values client-side, so the
# server sees `'admin' IS NULL OR role = 'admin'` and folds it to `role = 'admin'` (or to
# TRUE for NULL) before choosing an index: ix_users_role_created, ix_users_status_created or
# ix_users_created, each read backwards for newest first.
_PAGE = (
    "SELECT id, public_id, email, password_hash, role, status, created_at, updated_at, "
    "email_verified_at "
    "FROM users WHERE (%(role)s IS NULL OR role = %(role)s) "
    "AND (%(status)s IS NULL OR status = %(status)s) "
    "AND (%(email_like)s IS NULL OR email LIKE %(email_like)s) "
    "AND (%(after_at)s IS NULL OR created_at < %(after_at)s OR (created_at = %(after_at)s "
    "AND id < (SELECT c.id FROM users c WHERE c.public_id = %(after_id)s))) "
    "ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
)


def _db_time(value: datetime | None) -> datetime | None:
    return None if value is None else to_db(value)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class MySQLUserRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self, *, public_id: str, email: str, password_hash: str, now: datetime, verified: bool
    ) -> User:
        """Insert an active `user`, its address verified now or not yet (a sign-up's);
        EmailTaken when the address is registered already."""
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # DATETIME(3) holds ms
        verified_at = now if verified else None
        try:
            self._uow.execute(
                "INSERT INTO users (public_id, email, password_hash, created_at, updated_at, "
                "email_verified_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (public_id, email, password_hash, to_db(now), to_db(now), _db_time(verified_at)),
            )
        except pymysql.err.IntegrityError as exc:
            if is_duplicate(exc, "uq_users_email"):
                raise EmailTaken from None
            raise
        return User(
            id=self._uow.last_insert_id(),
            public_id=public_id,
            email=email,
            password_hash=password_hash,
            role="user",
            status="active",
            created_at=now,
            updated_at=now,
            email_verified_at=verified_at,
        )

    def get_by_email(self, email: str) -> User | None:
        row = self._uow.fetch_one(_BY_EMAIL, (email,))
        return None if row is None else user_from_row(row)

    def get_by_id(self, user_id: int, *, for_update: bool = False) -> User | None:
        row = self._uow.fetch_one(_BY_ID_FOR_UPDATE if for_update else _BY_ID, (user_id,))
        return None if row is None else user_from_row(row)

    def get_by_public_id(self, public_id: str, *, for_update: bool = False) -> User | None:
        sql = _BY_PUBLIC_ID_FOR_UPDATE if for_update else _BY_PUBLIC_ID
        row = self._uow.fetch_one(sql, (public_id,))
        return None if row is None else user_from_row(row)

    def mark_email_verified(self, user_id: int, *, at: datetime) -> bool:
        """Record the address as verified; False when it already was (nothing changed)."""
        return (
            self._uow.execute(
                "UPDATE users SET email_verified_at = %s "
                "WHERE id = %s AND email_verified_at IS NULL",
                (to_db(at), user_id),
            )
            == 1
        )

    def update_access(self, user_id: int, *, role: Role, status: UserStatus) -> None:
        self._uow.execute(
            "UPDATE users SET role = %s, status = %s WHERE id = %s", (role, status, user_id)
        )

    def update_password_hash(self, user_id: int, password_hash: str) -> None:
        self._uow.execute(
            "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
        )

    def page(
        self,
        *,
        role: Role | None,
        status: UserStatus | None,
        email_prefix: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[User]:
        """Users newest first, after the (created_at, public_id) of the previous page's last."""
        params: dict[str, Any] = {
            "role": role,
            "status": status,
            "email_like": None if email_prefix is None else _like_prefix(email_prefix),
            "after_at": None if after is None else to_db(after[0]),
            "after_id": None if after is None else after[1],
            "limit": limit,
        }
        return [user_from_row(row) for row in self._uow.fetch_all(_PAGE, params)]
