"""MigrateFunction (Tencent SCF; invoked by `scripts/deploy tencent` after every deploy, never
triggered otherwise): applies the SQL migrations, loads the seed config and promotes the first
admin, all idempotent (retouch.bootstrap.migrations).

The package carries shared/migrations and shared/seed beside this file, and yoyo-migrations
(requirements/migrate.txt); deploy/tencent.yml says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retouch.bootstrap.migrations import apply_migrations, load_seed, promote_first_admin
from retouch.core.settings import get_settings

HERE = Path(__file__).resolve().parent
MIGRATIONS = HERE / "shared" / "migrations"
SEED = HERE / "shared" / "seed"


def main_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Tencent SCF (synchronous Invoke, whose ClientContext is the event:
    {"first_admin_email": ...}): app.main_handler. Answers what it did."""
    email = (event or {}).get("first_admin_email")
    applied = apply_migrations(get_settings(), MIGRATIONS)
    seeded = load_seed(SEED)
    admin = promote_first_admin(email if isinstance(email, str) else None)
    return {"migrations_applied": applied, "seed_entries": seeded, "first_admin": admin}
