"""Plans, memberships, quota accounts, reservations and the ledger: each repository's port
(a `Protocol` the use cases ask their unit of work for) and its SQL adapter, registered with
`sql_adapter` beside it.

Repositories run parameterised statements in the caller's unit of work and never commit.
Methods that change rows report with a bool whether they did, so the service can build its
"exactly once" rules on row counts rather than on reads that could race.
"""

from retouch.quota.repository.accounts import (
    AccountRepository,
    MySQLAccountRepository,
    MySQLReservationRepository,
    ReservationRepository,
)
from retouch.quota.repository.ledger import LedgerRepository, MySQLLedgerRepository
from retouch.quota.repository.plans import (
    MembershipRepository,
    MySQLMembershipRepository,
    MySQLPlanRepository,
    PlanRepository,
)

__all__ = [
    "AccountRepository",
    "LedgerRepository",
    "MembershipRepository",
    "MySQLAccountRepository",
    "MySQLLedgerRepository",
    "MySQLMembershipRepository",
    "MySQLPlanRepository",
    "MySQLReservationRepository",
    "PlanRepository",
    "ReservationRepository",
]
