"""SQL for password reset tokens (`password_resets`). Parameterised statements only;
nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retouch.core.db import UnitOfWork
from retouch.core.time import from_db, to_db

_COLUMNS = "id, user_id, expires_at, used_at FROM password_resets WHERE token_hash = %s"


@dataclass(frozen=True)
class ResetToken:
    id: int
    user_id: int
    expires_at: datetime
    used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and self.expires_at > now


class MySQLPasswordResetRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, *, token_hash: str, user_id: int, now: datetime, expires_at: datetime) -> None:
        self._uow.execute(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) "
            "VALUES (%s, %s, %s, %s)",
            (token_hash, user_id, to_db(now), to_db(expires_at)),
        )

    def get(self, token_hash: str, *, for_update: bool = False) -> ResetToken | None:
        sql = f"SELECT {_COLUMNS}" + (" FOR UPDATE" if for_update else "")
        row = self._uow.fetch_one(sql, (token_hash,))
        if row is None:
            return None
        used_at = row["used_at"]
        return ResetToken(
            id=int(row["id"]),
            user_id=int(row["user_id"]),
            expires_at=from_db(row["expires_at"]),
            used_at=None if used_at is None else from_db(used_at),
        )

    def spend_all_of_user(self, user_id: int, *, at: datetime) -> int:
        """Spend every open token of the user: the one used, and any mailed before it."""
        return self._uow.execute(
            "UPDATE password_resets SET used_at = %s WHERE user_id = %s AND used_at IS NULL",
            (to_db(at), user_id),
        )
