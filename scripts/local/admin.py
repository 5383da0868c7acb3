"""`scripts/admin create --email ADDRESS [--role admin|operator|user] [--password-stdin]`:
make an account with a role, or give an existing one the role, without SQL
(`retouch.bootstrap.accounts`: audited, idempotent).

It uses the settings of the environment, after the running local stack's `.local/env` (as
`scripts/invoke` does). Without `--password-stdin` a new account's password is random and
unknown: its owner sets one with the password reset mail. The outcome is printed as one JSON
object; a bad argument exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from retouch.core.permissions import ROLES
from retouch.core.settings import SettingsError, get_settings
from scripts.local.lambda_runtime import load_local_env


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/admin", description="Manage accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make an account with a role (default admin)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", choices=ROLES, default="admin")
    create.add_argument(
        "--password-stdin", action="store_true", help="read a new account's password from stdin"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    load_local_env()
    try:
        get_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    from retouch.bootstrap.accounts import create_account

    password = sys.stdin.readline().rstrip("\n") if arguments.password_stdin else None
    try:
        outcome = create_account(
            email=arguments.email, role=arguments.role, password=password, by="scripts/admin"
        )
    except (ValueError, ValidationError) as exc:
        print(f"scripts/admin: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
