"""What a deploy runs once against the database: the SQL migrations (yoyo, under a lock), the
seed config (plans, then the catalog) and the promotion of the first admin.

The local stack runs it through `scripts/local/migrate.py`; the clouds through the `migrate`
job function (`functions/jobs/migrate`): on AWS the template's `Migrations` custom resource
runs it during the deploy, on Tencent SCF `scripts/deploy tencent` invokes it after every
deploy. Everything here is idempotent: applied migrations are skipped, the seed is an upsert,
an admin stays an admin.

yoyo-migrations is not in the layer: only the callers that apply migrations install it (the
dev tools, and the `migrate` function's own requirements, requirements/migrate.txt).
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from urllib.parse import quote, urlencode

from retouch.alerts.rules import RuleSet
from retouch.alerts.service import load_alert_seed
from retouch.audit.repository import MySQLAuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.catalog.schemas import CatalogSeed
from retouch.catalog.service import load_catalog
from retouch.core.db import get_database
from retouch.core.logging import logger
from retouch.core.secrets.own import database_password
from retouch.core.settings import Settings
from retouch.providers.destinations import DestinationPolicy, kind_allowed
from retouch.quota.schemas import PlanWrite
from retouch.quota.service import load_plans
from retouch.users.repository import MySQLUserRepository


def database_url(settings: Settings) -> str:
    """yoyo's URL for the settings' database, connecting as the functions do: the password of
    RETOUCH_DB_PASSWORD or read from its secret (RETOUCH_DB_PASSWORD_SECRET), user and password
    percent-encoded; with RETOUCH_DB_TLS, pymysql's arguments that verify the server's
    certificate and name against RETOUCH_DB_TLS_CA_FILE or the system CAs."""
    password = quote(database_password(settings), safe="")
    user = quote(settings.db_user, safe="")
    url = f"mysql://{user}:{password}@{settings.db_host}:{settings.db_port}/{settings.db_name}"
    if not settings.db_tls:
        return url
    tls = {"ssl_verify_cert": "true", "ssl_verify_identity": "true"}
    ca_file = settings.db_tls_ca_file or ssl.get_default_verify_paths().cafile
    if ca_file:
        tls["ssl_ca"] = ca_file
    return f"{url}?{urlencode(tls)}"


def apply_migrations(settings: Settings, directory: Path) -> int:
    """Apply every pending migration of `directory` under yoyo's lock; return how many ran."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(database_url(settings))
    migrations = read_migrations(str(directory))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)


def deployable_catalog(seed: CatalogSeed, policy: DestinationPolicy) -> CatalogSeed:
    """The seed without the providers whose kind this deploy refuses (the `simulator`, a
    loopback stand-in, outside the local network), so a cloud seed loads instead of failing
    on them. A pipeline that names a left-out provider still fails the load, loudly."""
    kept = [provider for provider in seed.providers if kind_allowed(provider.kind, policy)]
    left_out = sorted(p.key for p in seed.providers if p not in kept)
    if left_out:
        logger.info("seed providers left out on this network", extra={"providers": left_out})
    return seed.model_copy(update={"providers": kept})


def load_seed(directory: Path, policy: DestinationPolicy | None = None) -> int:
    """Upsert the seed of `directory` (plans.json, then catalog.json, without the providers
    the deploy's policy refuses, then the alert rules of alerts.json); return how many
    entries it holds."""
    document = json.loads((directory / "plans.json").read_text())
    plans = [PlanWrite.model_validate(plan) for plan in document["plans"]]
    count = load_plans(database=get_database("job"), plans=plans)
    catalog = CatalogSeed.model_validate_json((directory / "catalog.json").read_text())
    catalog = deployable_catalog(catalog, policy or DestinationPolicy.from_settings())
    count += load_catalog(database=get_database("job"), seed=catalog)
    rules = RuleSet.model_validate_json((directory / "alerts.json").read_text())
    return count + load_alert_seed(database=get_database("job"), seed=rules)


def promote_first_admin(email: str | None) -> str:
    """Make the registered user with this email an admin, with an audit row (no actor: the
    deploy did it); answers what happened: `promoted`, `already admin`, `not registered`, or
    `no email` when none was given."""
    if not email:
        return "no email"
    with get_database("job").unit_of_work() as uow:
        users = MySQLUserRepository(uow)
        user = users.get_by_email(email.strip())
        if user is None:
            return "not registered"
        if user.role == "admin":
            return "already admin"
        users.update_access(user.id, role="admin", status=user.status)
        MySQLAuditRepository(uow).add(
            AuditEntry(
                actor_user_id=None,
                action="user.promote_first_admin",
                target_type="user",
                target_id=user.public_id,
                before={"role": user.role},
                after={"role": "admin"},
            )
        )
        uow.commit()
    return "promoted"
