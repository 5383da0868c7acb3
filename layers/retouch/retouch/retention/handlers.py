"""The `retention` job's entry: the run over the process's database, storage and settings,
and with it the erasure of deleted accounts past their grace and the expiry of accounts never
verified (`retouch.erasure`)."""

from __future__ import annotations

from typing import Any

from retouch.core.db import get_database
from retouch.core.settings import get_settings
from retouch.erasure.job import ErasureFailed, erase_deleted_accounts
from retouch.erasure.unverified import expire_unverified_accounts
from retouch.retention.service import run_retention
from retouch.storage import get_storage


def run_scheduled_retention() -> dict[str, Any]:
    """One retention run (`retouch.retention.service`), on the job's connection, after the
    erasure of deleted accounts (`accounts` in the answer), after the accounts never verified
    were deleted (`unverified`; erased by a run past their grace). An erasure that failed
    fails the run once the tables are purged; the account waits, whole, for the next run."""
    database, storage, settings = get_database("job"), get_storage(), get_settings()
    unverified = expire_unverified_accounts(database=database, settings=settings)
    failure: ErasureFailed | None = None
    try:
        accounts: dict[str, object] = erase_deleted_accounts(
            database=database, storage=storage, settings=settings
        )
    except ErasureFailed as exc:
        failure, accounts = exc, {"failed": str(exc)}
    results = run_retention(database=database, storage=storage, settings=settings)
    if failure is not None:
        raise failure
    return {**results, "accounts": accounts, "unverified": unverified}
