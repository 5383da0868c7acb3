"""The `migrate` job function as SCF runs it: its deployed package unpacked (app.py beside
shared/migrations and shared/seed), against the real MariaDB, on the cloud's network policy
(RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK false)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from retouch.core.db import get_database
from retouch.core.time import utc_now
from retouch.users.repository import MySQLUserRepository
from tests.conftest import Stack

pytestmark = pytest.mark.integration


def _register(email: str) -> None:
    with get_database().unit_of_work() as uow:
        MySQLUserRepository(uow).add(
            public_id=secrets.token_hex(8),
            email=email,
            password_hash="x",
            now=utc_now(),
            verified=True,
        )
        uow.commit()


def _role_and_audit(email: str) -> tuple[str, int]:
    with get_database().unit_of_work() as uow:
        user = MySQLUserRepository(uow).get_by_email(email)
        assert user is not None
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM audit_logs WHERE target_id = %s AND action = %s",
            (user.public_id, "user.promote_first_admin"),
        )
    assert row is not None
    return user.role, int(row["n"])


def test_migrate_seeds_on_the_cloud_network_and_promotes_the_first_admin_once(
    stack: Stack, migrate_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the cloud's network policy (the seed's simulator is refused there) and a user
    monkeypatch.setenv("RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK", "false")
    email = f"first-admin-{secrets.token_hex(4)}@example.com"
    _register(email)

    # WHEN the deploy invokes the function twice with the first admin's email
    first = migrate_app.main_handler({"first_admin_email": email}, None)
    second = migrate_app.main_handler({"first_admin_email": email}, None)

    # THEN the seed loads, the user is an admin with one audit row, and nothing repeats
    assert first["first_admin"] == "promoted" and second["first_admin"] == "already admin"
    assert first["seed_entries"] > 0 and second["migrations_applied"] == 0
    assert _role_and_audit(email) == ("admin", 1)


@pytest.mark.parametrize(
    ("event", "answer"),
    [({"first_admin_email": "nobody@example.com"}, "not registered"), ({}, "no email")],
)
def test_migrate_without_a_registered_first_admin_promotes_nobody(
    stack: Stack, migrate_app: Any, monkeypatch: pytest.MonkeyPatch, event: Any, answer: str
) -> None:
    monkeypatch.setenv("RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK", "false")

    result = migrate_app.main_handler(event, None)

    assert result["first_admin"] == answer


def test_the_package_runs_the_migrations_it_ships(migrate_app: Any) -> None:
    shipped = Path(migrate_app.MIGRATIONS)

    assert shipped.is_dir() and sorted(shipped.glob("*.sql"))
    assert not shipped.is_relative_to(Path(__file__).resolve().parents[3] / "shared")
