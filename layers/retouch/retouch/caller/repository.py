"""Refresh tokens and sessions (refresh families), in MySQL.

A revoked family is also how access tokens are denied: every access token names its family
(`sid`), and the request's one lookup of the caller reads the family's revocation with the
account (`caller`), so sign-out and reuse detection need no second store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from retouch.caller.attachments import AttachedRead
from retouch.caller.schemas import CallerRecord
from retouch.core.db import Row, UnitOfWork
from retouch.core.identity import CurrentMembership, User
from retouch.core.time import from_db, to_db

T = TypeVar("T")

_ID_BY_HASH = "SELECT id FROM refresh_tokens WHERE token_hash = %s"
_BY_ID_FOR_UPDATE = (
    "SELECT id, token_hash, family_id, parent_id, user_id, client_hash, expires_at, "
    "used_at, revoked_at "
    "FROM refresh_tokens WHERE id = %s FOR UPDATE"
)
# The caller of a request: the account, and whether the session of its token was revoked
# (uq_users_public_id, then ix_refresh_tokens_family: two index lookups, one round trip). The
# memberships in force are joined in the same statement — one row each, or one row of NULLs —
# and `caller` picks the one of the highest-priority plan (the quota package's rule: highest
# priority, then latest start) in Python; two correlated `ORDER BY … LIMIT 1` subqueries did
# the same at about twice the cost (each sorted through a temporary table). A route that reads
# one row of the caller's may attach it to this statement (`AttachedRead`, owned by the domain
# of that row): the SQL is assembled from constant fragments only; every value is a parameter.
_CALLER_SELECT = (
    "SELECT u.id, u.public_id, u.email, u.password_hash, u.role, u.status, u.created_at, "
    "u.updated_at, u.email_verified_at, EXISTS (SELECT 1 FROM refresh_tokens t "
    "WHERE t.family_id = %s AND t.revoked_at IS NOT NULL) AS session_revoked, m.plan_code, "
    "m.expires_at AS membership_expires_at, m.starts_at AS membership_starts_at, "
    "p.priority AS plan_priority"
)
_CALLER_FROM = (
    " FROM users u LEFT JOIN memberships m ON m.user_id = u.id AND m.starts_at <= %s "
    "AND (m.expires_at IS NULL OR m.expires_at > %s) "
    "LEFT JOIN plans p ON p.code = m.plan_code"
)
_CALLER_WHERE = " WHERE u.public_id = %s"
# A locking read: it sees the child a concurrent rotation has just committed, whatever the
# transaction's snapshot.
_BY_PARENT = (
    "SELECT id, token_hash, family_id, parent_id, user_id, client_hash, expires_at, "
    "used_at, revoked_at "
    "FROM refresh_tokens WHERE parent_id = %s LOCK IN SHARE MODE"
)


@dataclass(frozen=True)
class RefreshToken:
    """A `refresh_tokens` row (the token itself is never stored, only its digest).

    `client_hash` is the keyed digest of the client it was issued to (None before 0015)."""

    id: int
    token_hash: str
    family_id: str
    parent_id: int | None
    user_id: int
    client_hash: str | None
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def _optional_time(value: datetime | None) -> datetime | None:
    return None if value is None else from_db(value)


def _token(row: Row) -> RefreshToken:
    return RefreshToken(
        id=int(row["id"]),
        token_hash=row["token_hash"],
        family_id=row["family_id"],
        parent_id=None if row["parent_id"] is None else int(row["parent_id"]),
        user_id=int(row["user_id"]),
        client_hash=row["client_hash"],
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
        client_hash: str | None,
        issued_at: datetime,
        expires_at: datetime,
    ) -> int:
        self._uow.execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, parent_id, user_id, client_hash, "
            "issued_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                token_hash,
                family_id,
                parent_id,
                user_id,
                client_hash,
                to_db(issued_at),
                to_db(expires_at),
            ),
        )
        return self._uow.last_insert_id()

    def get_for_update(self, token_hash: str) -> RefreshToken | None:
        """The token with this digest, locked: concurrent refreshes of it queue up here.

        Found by digest first, then locked by primary key. Locked through the digest index,
        the waiting refreshes' locks conflicted with the winner's insert of the child's digest
        into that index (InnoDB gap locking): concurrent refreshes of one token deadlocked.
        """
        found = self._uow.fetch_one(_ID_BY_HASH, (token_hash,))
        if found is None:
            return None
        row = self._uow.fetch_one(_BY_ID_FOR_UPDATE, (found["id"],))
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

    def revoke_others_of_user(self, user_id: int, *, keep_family: str, at: datetime) -> int:
        """Revoke every session of the user but `keep_family` (a password change's own)."""
        return self._uow.execute(
            "UPDATE refresh_tokens SET revoked_at = %s WHERE user_id = %s AND revoked_at IS NULL "
            "AND family_id <> %s",
            (to_db(at), user_id, keep_family),
        )


class MySQLCallerRepository:
    """The request's one lookup of its caller (every authenticated request runs it)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def caller(self, *, public_id: str, session_id: str, now: datetime) -> CallerRecord:
        """The account with `public_id`, whether the session `session_id` is revoked and the
        membership in force at `now` (None when every membership has expired)."""
        moment = to_db(now)
        rows = self._uow.fetch_all(
            _CALLER_SELECT + _CALLER_FROM + _CALLER_WHERE, (session_id, moment, moment, public_id)
        )
        return _caller_record(rows)

    def caller_with(
        self, *, public_id: str, session_id: str, now: datetime, read: AttachedRead[T]
    ) -> tuple[CallerRecord, T | None]:
        """`caller`, and the row of the caller's that `read` names, in the same statement
        (one round trip): its record, or None when the caller has none."""
        moment = to_db(now)
        sql = f"{_CALLER_SELECT}, {read.columns()}{_CALLER_FROM} {read.join()}{_CALLER_WHERE}"
        rows = self._uow.fetch_all(sql, (session_id, moment, moment, *read.params(), public_id))
        return _caller_record(rows), (read.parse(rows[0]) if rows else None)

    def attached(self, user_id: int, read: AttachedRead[T]) -> T | None:
        """The row of user `user_id`'s that `read` names, alone: what a request whose caller
        came from the cache reads (the account by primary key, for the read's join)."""
        sql = f"SELECT {read.columns()} FROM users u {read.join()} WHERE u.id = %s"  # noqa: S608
        row = self._uow.fetch_one(sql, (*read.params(), user_id))
        return None if row is None else read.parse(row)


def _caller_record(rows: list[Row]) -> CallerRecord:
    if not rows:
        return CallerRecord(user=None, session_revoked=False, membership=None)
    held = [row for row in rows if row["plan_code"] is not None]
    membership = None
    if held:
        best = max(held, key=lambda row: (row["plan_priority"], row["membership_starts_at"]))
        expires_at = best["membership_expires_at"]
        membership = CurrentMembership(
            plan_code=best["plan_code"],
            expires_at=None if expires_at is None else from_db(expires_at),
        )
    return CallerRecord(
        user=user_from_row(rows[0]),
        session_revoked=bool(rows[0]["session_revoked"]),
        membership=membership,
    )


def user_from_row(row: Row) -> User:
    """A `users` row (all its columns) as the internal record."""
    return User(
        id=int(row["id"]),
        public_id=row["public_id"],
        email=row["email"],
        password_hash=row["password_hash"],
        role=row["role"],
        status=row["status"],
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
        email_verified_at=_optional_time(row["email_verified_at"]),
    )
