"""SQL for the mailed single-use tokens: password resets (`password_resets`) and email
verifications (`email_verifications`), two tables of one shape. Parameterised statements
only (the table names are constants); nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from retouch.core.db import UnitOfWork
from retouch.core.time import from_db, to_db


@dataclass(frozen=True)
class ResetToken:
    id: int
    user_id: int
    expires_at: datetime
    used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and self.expires_at > now


class _MailedTokens:
    """A table of mailed tokens, each stored as its SHA-256, spent once, until it expires."""

    table: ClassVar[str]

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, *, token_hash: str, user_id: int, now: datetime, expires_at: datetime) -> None:
        self._uow.execute(
            f"INSERT INTO {self.table} (token_hash, user_id, created_at, expires_at) "  # noqa: S608 - a constant
            "VALUES (%s, %s, %s, %s)",
            (token_hash, user_id, to_db(now), to_db(expires_at)),
        )

    def get(self, token_hash: str, *, for_update: bool = False) -> ResetToken | None:
        sql = f"SELECT id, user_id, expires_at, used_at FROM {self.table} WHERE token_hash = %s"  # noqa: S608
        row = self._uow.fetch_one(sql + (" FOR UPDATE" if for_update else ""), (token_hash,))
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
            f"UPDATE {self.table} SET used_at = %s WHERE user_id = %s AND used_at IS NULL",  # noqa: S608
            (to_db(at), user_id),
        )


class MySQLPasswordResetRepository(_MailedTokens):
    table = "password_resets"


class MySQLEmailVerificationRepository(_MailedTokens):
    table = "email_verifications"

    def add_with_code(
        self, *, token_hash: str, code_hash: str, user_id: int, now: datetime, expires_at: datetime
    ) -> None:
        """A token and the digest of the short code mailed with it."""
        self._uow.execute(
            "INSERT INTO email_verifications (token_hash, code_hash, user_id, created_at, "
            "expires_at) VALUES (%s, %s, %s, %s, %s)",
            (token_hash, code_hash, user_id, to_db(now), to_db(expires_at)),
        )

    def get_by_code(self, code_hash: str) -> ResetToken | None:
        """The newest row with this code digest, locked."""
        row = self._uow.fetch_one(
            "SELECT token_hash FROM email_verifications WHERE code_hash = %s "
            "ORDER BY id DESC LIMIT 1",
            (code_hash,),
        )
        return None if row is None else self.get(row["token_hash"], for_update=True)
