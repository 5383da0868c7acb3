"""Apply the SQL migrations in shared/migrations (yoyo) and load the seed config.

    python -m scripts.local.migrate            # uses the RETOUCH_DB_* settings

Idempotent: applied migrations are recorded by yoyo and skipped; the seed is an upsert.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

from yoyo import get_backend, read_migrations

from retouch.catalog.schemas import CatalogSeed
from retouch.catalog.service import load_catalog
from retouch.core.db import get_database
from retouch.core.settings import Settings, SettingsError, get_settings
from retouch.quota.schemas import PlanWrite
from retouch.quota.service import load_plans

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "shared" / "migrations"
SEED = ROOT / "shared" / "seed"


def database_url(settings: Settings) -> str:
    password = quote(settings.db_password.get_secret_value(), safe="")
    user = quote(settings.db_user, safe="")
    return f"mysql://{user}:{password}@{settings.db_host}:{settings.db_port}/{settings.db_name}"


def apply_migrations(settings: Settings) -> int:
    """Apply every pending migration under a lock; return how many ran."""
    backend = get_backend(database_url(settings))
    migrations = read_migrations(str(MIGRATIONS))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)


def load_seed() -> int:
    """Upsert the seed config (plans, then the catalog); return how many entries it holds."""
    document = json.loads((SEED / "plans.json").read_text())
    plans = [PlanWrite.model_validate(plan) for plan in document["plans"]]
    count = load_plans(database=get_database(), plans=plans)
    catalog = CatalogSeed.model_validate_json((SEED / "catalog.json").read_text())
    return count + load_catalog(database=get_database(), seed=catalog)


def main() -> int:
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    applied = apply_migrations(settings)
    seeded = load_seed()
    print(f"migrations applied: {applied}; seed rows: {seeded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
