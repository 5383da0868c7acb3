"""Accounts never verified, on the real MariaDB: one unverified past the TTL is deleted by the
retention run (its sessions end, an audit row says why) and erased by a run past the grace,
leaving no row naming it; a verified account and a young unverified one are kept; a
verification link used after the expiry is refused; a TTL of 0 keeps every account; migration
0031's rollback and its second run."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from retouch.auth.schemas import EmailVerification
from retouch.auth.service import register
from retouch.auth.verification import VerificationTokenInvalid, verify_email
from retouch.core.db import get_database
from retouch.core.ids import new_public_id
from retouch.core.settings import Settings, get_settings
from retouch.core.time import to_db, utc_now
from retouch.erasure.job import erase_deleted_accounts
from retouch.erasure.unverified import EXPIRED, expire_unverified_accounts
from retouch.storage.local import LocalStorage
from tests.conftest import Stack
from tests.fakes.mailer import RecordingMailer
from tests.integration.erasure_support import Person, new_person, rows_naming
from tests.integration.identity_support import PASSWORD, audit_rows, new_email
from tests.integration.pipeline_support import local_storage
from tests.integration.rollups.test_rollup_migration import run_script

pytestmark = pytest.mark.integration

TTL_DAYS = 7


def _settings(ttl_days: int = TTL_DAYS) -> Settings:
    return get_settings().model_copy(update={"unverified_ttl_days": ttl_days})


def _signed_up(person: Person, *, days_ago: float, verified: bool) -> None:
    """Backdate the account's sign-up (and, when `verified`, its verification)."""
    at = to_db(utc_now() - timedelta(days=days_ago))
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE users SET created_at = %s, email_verified_at = %s WHERE id = %s",
            (at, at if verified else None, person.id),
        )
        uow.commit()


def _status(person: Person) -> str | None:
    with get_database().read_only() as uow:
        row = uow.fetch_one("SELECT status FROM users WHERE id = %s", (person.id,))
    return None if row is None else str(row["status"])


def _open_sessions(person: Person) -> int:
    with get_database().read_only() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM refresh_tokens WHERE user_id = %s AND revoked_at IS NULL",
            (person.id,),
        )
    assert row is not None
    return int(row["n"])


def _expire(settings: Settings | None = None) -> dict[str, int]:
    return expire_unverified_accounts(
        database=get_database("job"), settings=settings or _settings()
    )


def _erase(storage: LocalStorage) -> dict[str, object]:
    later = utc_now() + timedelta(seconds=get_settings().erasure_grace_s + 60)
    return erase_deleted_accounts(
        database=get_database("job"), storage=storage, settings=get_settings(), clock=lambda: later
    )


@pytest.fixture
def storage(stack: Stack, tmp_path: Path) -> LocalStorage:
    return local_storage(tmp_path / "objects")


def test_an_account_unverified_past_the_ttl_is_deleted_then_erased(
    storage: LocalStorage,
) -> None:
    # GIVEN an account never verified, signed up eight days ago, with a session open
    person = new_person()
    _signed_up(person, days_ago=TTL_DAYS + 1, verified=False)
    with get_database().unit_of_work() as uow:
        uow.execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            (secrets.token_hex(32), new_public_id("fam"), person.id, *[to_db(utc_now())] * 2),
        )
        uow.commit()

    # WHEN the retention run looks for expired accounts
    assert _expire()["expired"] >= 1

    # THEN it is deleted as its owner's deletion would: `deleting`, its sessions ended, and
    # the audit row says it expired unverified, with no actor
    assert _status(person) == "deleting"
    assert _open_sessions(person) == 0
    rows = [row for row in audit_rows(person.public_id) if row["action"] == EXPIRED]
    assert len(rows) == 1 and rows[0]["actor"] is None
    assert rows[0]["after_state"] == {"revoked_tokens": 1, "canceled_tasks": 0}
    # AND a second run finds nothing more to do for it
    _expire()
    assert len([r for r in audit_rows(person.public_id) if r["action"] == EXPIRED]) == 1

    # WHEN a run past the erasure's grace comes
    _erase(storage)

    # THEN no row names the person
    assert rows_naming(person) == []


def test_a_verified_account_and_a_young_unverified_one_are_kept(stack: Stack) -> None:
    old_verified, young_unverified = new_person(), new_person()
    _signed_up(old_verified, days_ago=TTL_DAYS + 30, verified=True)
    _signed_up(young_unverified, days_ago=TTL_DAYS - 1, verified=False)

    _expire()

    assert _status(old_verified) == "active"
    assert _status(young_unverified) == "active"


def test_a_ttl_of_zero_keeps_every_unverified_account(stack: Stack) -> None:
    person = new_person()
    _signed_up(person, days_ago=400, verified=False)

    assert _expire(_settings(ttl_days=0)) == {"expired": 0}

    assert _status(person) == "active"


def test_a_verification_link_used_after_the_expiry_is_refused(stack: Stack) -> None:
    # GIVEN a sign-up whose mail was never opened, past the TTL
    email, inbox, settings = new_email("expire"), RecordingMailer(), get_settings()
    register(
        database=get_database(), settings=settings, email=email, password=PASSWORD, mailer=inbox
    )
    token = inbox.token(email, after=settings.email_verification_url)
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SELECT id, public_id FROM users WHERE email = %s", (email,))
        assert row is not None
        uow.commit()
    person = Person(id=int(row["id"]), public_id=str(row["public_id"]), email=email)
    _signed_up(person, days_ago=TTL_DAYS + 1, verified=False)

    # WHEN the account expires, and then its link is used (the token is still in its 24 h
    # only in this test: the clock of the verification is today)
    _expire()
    with pytest.raises(VerificationTokenInvalid):
        verify_email(
            database=get_database(),
            settings=settings,
            proof=EmailVerification(token=token),
            client=None,
        )

    # THEN the account stays deleted and unverified, with no credits granted
    assert _status(person) == "deleting"
    with get_database().read_only() as uow:
        ledger = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM quota_ledger WHERE user_id = %s", (person.id,)
        )
    assert ledger is not None and int(ledger["n"]) == 0


def _has_index() -> bool:
    with get_database().read_only() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM information_schema.statistics WHERE table_schema = "
            "DATABASE() AND table_name = 'users' AND index_name = 'ix_users_unverified'"
        )
    assert row is not None
    return int(row["n"]) > 0


def test_the_rollback_undoes_0031_and_the_migration_applies_again(stack: Stack) -> None:
    assert _has_index()

    run_script(get_database(), "0031.unverified_expiry.rollback.sql")
    try:
        assert not _has_index()
    finally:
        run_script(get_database(), "0031.unverified_expiry.sql")
    assert _has_index()
    run_script(get_database(), "0031.unverified_expiry.sql")  # again: nothing changes
    assert _has_index()
