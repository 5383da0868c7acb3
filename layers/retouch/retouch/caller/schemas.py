"""What the caller lookup returns."""

from __future__ import annotations

from dataclasses import dataclass

from retouch.core.identity import CurrentMembership, User


@dataclass(frozen=True, slots=True)
class CallerRecord:
    """What the caller read found: the account (None: no such user), the session's
    revocation and the membership in force (a read attached to it comes back apart, typed:
    `MySQLCallerRepository.caller_with`)."""

    user: User | None
    session_revoked: bool
    membership: CurrentMembership | None
