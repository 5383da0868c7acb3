"""Apply the SQL migrations in shared/migrations (yoyo) and load the seed config.

    python -m scripts.local.migrate            # uses the RETOUCH_DB_* settings

Idempotent: applied migrations are recorded by yoyo and skipped; the seed is an upsert.
"""

from __future__ import annotations

import sys
from pathlib import Path

from retouch.bootstrap import migrations
from retouch.core.settings import Settings, SettingsError, get_settings

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "shared" / "migrations"
SEED = ROOT / "shared" / "seed"


def apply_migrations(settings: Settings) -> int:
    """Apply every pending migration of shared/migrations; return how many ran."""
    return migrations.apply_migrations(settings, MIGRATIONS)


def load_seed() -> int:
    """Upsert shared/seed (without the providers the settings' network refuses); return how
    many entries it holds."""
    return migrations.load_seed(SEED)


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
