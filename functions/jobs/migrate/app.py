"""MigrateFunction: applies the SQL migrations, loads the seed config and promotes the first
admin, all idempotent (retouch.bootstrap.migrations), once per deploy and never otherwise.

AWS: the `Migrations` custom resource of template.yaml runs it during every deploy that changes
this function's code or the first admin (retouch.bootstrap.custom_resource answers
CloudFormation: a failure rolls the deploy back). Tencent SCF: `scripts/deploy tencent` invokes
it after every deploy.

The package carries shared/migrations and shared/seed beside this file, and yoyo-migrations
(requirements/migrate.txt): deploy/tencent.yml says so for SCF, this folder's Makefile for
`sam build`.

An error that escapes either entry point is reported to error tracking and raised again
(`reporting_errors`); one the custom resource answers FAILED is reported there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from retouch.bootstrap.accounts import create_account
from retouch.bootstrap.custom_resource import serve
from retouch.bootstrap.migrations import apply_migrations, load_seed, promote_first_admin
from retouch.core.errortracking import reporting_errors
from retouch.core.settings import get_settings

HERE = Path(__file__).resolve().parent
#: The package's copies; in the source tree (scripts/invoke, the sample events) the repository's.
SHARED = HERE / "shared" if (HERE / "shared").is_dir() else HERE.parents[2] / "shared"
MIGRATIONS = SHARED / "migrations"
SEED = SHARED / "seed"


def migrate(email: Any) -> dict[str, Any]:
    """Migrate, seed, promote `email` if it is a registered user's; answers what it did."""
    applied = apply_migrations(get_settings(), MIGRATIONS)
    seeded = load_seed(SEED)
    admin = promote_first_admin(email if isinstance(email, str) else None)
    return {"migrations_applied": applied, "seed_entries": seeded, "first_admin": admin}


def _from_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The custom resource's run: its `FirstAdminEmail` property is the first admin."""
    return migrate(properties.get("FirstAdminEmail"))


@reporting_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda: app.handler. For CloudFormation (the `Migrations` custom resource's
    ServiceToken, an event with a RequestType) it answers on the request's ResponseURL and
    returns that answer; invoked by hand (`aws lambda invoke`, {"first_admin_email": ...}) it
    runs as on SCF and answers what it did."""
    if "RequestType" not in (event or {}):
        return main_handler(event, context)
    return serve(event, context, _from_properties)


@reporting_errors
def main_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Tencent SCF (synchronous Invoke, whose ClientContext is the event:
    {"first_admin_email": ...}): app.main_handler. Answers what it did.

    The one-off {"create_admin": {"email": ..., "role": "admin"}} only makes that account
    with that role (retouch.bootstrap.accounts: audited, idempotent), migrating nothing."""
    event = event or {}
    if "create_admin" in event:
        return {"create_admin": _create_admin(event["create_admin"])}
    return migrate(event.get("first_admin_email"))


def _create_admin(request: Any) -> dict[str, Any]:
    if not isinstance(request, dict) or not isinstance(request.get("email"), str):
        return {"outcome": "refused", "error": 'send {"email": "...", "role": "admin"}'}
    try:
        return create_account(
            email=request["email"], role=str(request.get("role", "admin")), by="migrate function"
        )
    except ValueError as exc:  # pydantic's ValidationError is one
        return {"outcome": "refused", "error": str(exc).splitlines()[0]}
