"""Migration 0023 and its rollback on a private server: accounts that existed before it count
as verified from their creation and keep their monthly grants; the rollback removes what it
added, and the migration applies again after it."""

from __future__ import annotations

from datetime import datetime

import pytest

from retouch.core.db import Database, get_database
from tests.conftest import Stack
from tests.integration.rollups.test_rollup_migration import run_script

pytestmark = pytest.mark.integration

CREATED = datetime(2029, 3, 4, 5, 6, 7)


def test_accounts_from_before_0023_count_as_verified_and_the_rollback_undoes_it(
    private_stack: Stack,
) -> None:
    database = get_database()
    # GIVEN the schema before 0023, with an account in it
    run_script(database, "0023.email_verification.rollback.sql")
    assert _added(database) == 0
    with database.unit_of_work() as uow:
        uow.execute(
            "INSERT INTO users (public_id, email, password_hash, created_at, updated_at) "
            "VALUES ('usr_before0023aaaaaa', 'before@example.com', '-', %s, %s)",
            (CREATED, CREATED),
        )
        uow.execute(
            "INSERT INTO quota_accounts (user_id, balance, reserved, period_start, period_end) "
            "SELECT id, 5, 0, '2029-03-01', '2029-04-01' FROM users WHERE email = %s",
            ("before@example.com",),
        )
        uow.commit()

    # WHEN 0023 applies
    run_script(database, "0023.email_verification.sql")

    # THEN the account is verified from its creation, its grants open
    with database.unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT u.email_verified_at, q.period_grants FROM users u "
            "JOIN quota_accounts q ON q.user_id = u.id WHERE u.email = %s",
            ("before@example.com",),
        )
        tables = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = 'email_verifications'"
        )
    assert row is not None and tables is not None
    assert (row["email_verified_at"], row["period_grants"], tables["n"]) == (CREATED, 1, 1)
    assert _added(database) == 3


def _added(database: Database) -> int:
    """How many of 0023's table and columns exist."""
    with database.unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
            "DATABASE() AND table_name = 'email_verifications') + (SELECT COUNT(*) FROM "
            "information_schema.columns WHERE table_schema = DATABASE() AND ((table_name = "
            "'users' AND column_name = 'email_verified_at') OR (table_name = 'quota_accounts' "
            "AND column_name = 'period_grants'))) AS n"
        )
    assert row is not None
    return int(row["n"])
