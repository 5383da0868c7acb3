"""`scripts/admin create` and the migrate function's one-off `create_admin`, against the real
MariaDB: an account made or promoted without SQL, audited, and idempotent."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from retouch.core.db import get_database
from tests.conftest import Stack, load_function
from tests.integration.identity_support import PASSWORD, Api, audit_rows, new_email

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _admin(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the repository's own script
        [str(ROOT / "scripts" / "admin"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )


def _account(email: str) -> dict[str, Any]:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT u.public_id, u.role, u.status, q.user_id AS credits FROM users u "
            "LEFT JOIN quota_accounts q ON q.user_id = u.id WHERE u.email = %s",
            (email,),
        )
    assert row is not None
    return dict(row)


def test_create_makes_an_admin_once_with_one_audit_row(stack: Stack, api: Api) -> None:
    email = new_email("first-admin")

    # WHEN the script runs twice, the first time with a password on stdin
    first = _admin("create", "--email", email.upper(), "--password-stdin", stdin=PASSWORD + "\n")
    second = _admin("create", "--email", email)

    # THEN the account exists once, as an admin with its credit account, and signs in
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    made, again = json.loads(first.stdout), json.loads(second.stdout)
    assert made["outcome"] == "created" and made["role"] == "admin"
    assert again == {"outcome": "unchanged", "user_id": made["user_id"], "role": "admin"}
    account = _account(email)
    assert (account["public_id"], account["role"], account["status"]) == (
        made["user_id"],
        "admin",
        "active",
    )
    assert account["credits"] is not None
    login = api.login(email)
    assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
    # AND one audit row, with no actor and the tool named
    rows = audit_rows(made["user_id"])
    assert [(r["action"], r["actor"], r["after_state"]) for r in rows] == [
        ("user.create_by_operator", None, {"role": "admin", "by": "scripts/admin"})
    ]


def test_create_promotes_a_registered_user_and_refuses_bad_input(stack: Stack, api: Api) -> None:
    user = api.register()["user"]
    outcome = _admin("create", "--email", user["email"], "--role", "operator")
    assert outcome.returncode == 0, outcome.stderr
    assert json.loads(outcome.stdout)["outcome"] == "role changed"
    assert _account(user["email"])["role"] == "operator"
    rows = audit_rows(user["id"])
    assert rows[-1]["action"] == "user.role_by_operator"
    assert rows[-1]["before_state"] == {"role": "user"}

    bad_email = _admin("create", "--email", "not-an-email")
    bad_role = _admin("create", "--email", new_email(), "--role", "root")
    assert bad_email.returncode == 2 and bad_email.stdout == ""
    assert bad_role.returncode == 2


def test_the_migrate_function_creates_an_admin_as_a_one_off(stack: Stack) -> None:
    handler = load_function("functions/jobs/migrate/app.py").main_handler
    email = new_email("cloud-admin")
    event = {"create_admin": {"email": email, "role": "admin"}}

    first, second = handler(event, None), handler(event, None)

    assert first["create_admin"]["outcome"] == "created"
    assert second["create_admin"]["outcome"] == "unchanged"
    assert _account(email)["role"] == "admin"
    assert len(audit_rows(first["create_admin"]["user_id"])) == 1
    refused = handler({"create_admin": {"email": "nope"}}, None)
    assert refused["create_admin"]["outcome"] == "refused"
