"""The erasure of an account in SQL: the one place that knows every table holding a person.

Like the retention rules, it writes other domains' tables, because erasure is about a person
across all of them; each statement goes through the user's own index. `erase` runs in one
transaction: a crash anywhere leaves the account as it was (still `deleting`), and the next
run starts over. What it keeps for accounting — the credit ledger and the orders — moves to a
new `deleted` account row (random id, placeholder address, no password), so no row keeps the
person's numeric id, public id or address (docs/accounts.md, "Deleting an account").
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from retouch.core.db import UnitOfWork
from retouch.core.ids import new_public_id
from retouch.core.time import to_db
from retouch.storage.keys import InvalidStorageKey, validate_key

#: The roots of the objects a person's uploads and tasks leave (storage/keys.py).
PERSONAL_ROOTS = ("uploads", "outputs", "work")
#: The address of an erased account: unique, and no one's (`.invalid` never resolves).
PLACEHOLDER_DOMAIN = "erased.invalid"

_PENDING = (
    "SELECT id FROM users WHERE status = 'deleting' AND deletion_requested_at <= %s "
    "ORDER BY deletion_requested_at, id LIMIT %s"
)
_UNVERIFIED = (
    "SELECT public_id FROM users WHERE email_verified_at IS NULL AND status = 'active' "
    "AND created_at <= %s ORDER BY created_at, id LIMIT %s"
)
_ACTIVE_TASKS = "SELECT public_id FROM tasks WHERE user_id = %s AND status IN ('queued', 'running')"
_UPLOAD_KEYS = "SELECT object_key FROM uploads WHERE user_id = %s"
_TASK_DOCUMENTS = (
    "SELECT t.output, s.state FROM tasks t LEFT JOIN task_steps s ON s.task_id = t.id "
    "WHERE t.user_id = %s"
)
# Kept rows first move to the new account (whose credit account must exist before the
# ledger's foreign key can name it); a ledger ref names an order of the person's (kept with
# it) or is replaced, as is any reason an admin wrote: a task id, a period naming the old id
# or a free text could lead back to them.
_MOVE = (
    (
        "INSERT INTO quota_accounts (user_id, balance, reserved, period_start, period_end) "
        "SELECT %(new)s, balance, reserved, period_start, period_end FROM quota_accounts "
        "WHERE user_id = %(old)s"
    ),
    (
        "UPDATE quota_ledger l SET l.user_id = %(new)s, l.reason = NULL, "
        "l.ref = IF(EXISTS (SELECT 1 FROM orders o WHERE o.public_id = l.ref "
        "AND o.user_id = %(old)s), l.ref, CONCAT('erased:', l.id)) WHERE l.user_id = %(old)s"
    ),
    "UPDATE orders SET user_id = %(new)s WHERE user_id = %(old)s",
    # Audit rows about the person keep their action and time; what they said (addresses,
    # client IPs, states) goes. Rows the person wrote as an admin keep their states (they
    # are about others) and name the new account as their actor.
    (
        "UPDATE audit_logs SET target_id = %(new_public)s, before_state = NULL, "
        "after_state = NULL, client_request_id = NULL "
        "WHERE target_type = 'user' AND target_id = %(old_public)s"
    ),
    "UPDATE audit_logs SET actor_user_id = %(new)s WHERE actor_user_id = %(old)s",
    "UPDATE form_schemas SET created_by = %(new)s WHERE created_by = %(old)s",
    "UPDATE pipeline_schemas SET created_by = %(new)s WHERE created_by = %(old)s",
    "UPDATE alert_rule_versions SET created_by = %(new)s WHERE created_by = %(old)s",
)
# Then everything else of the person's goes, children before parents.
_DELETE = (
    "DELETE FROM idempotency_keys WHERE user_id = %(old)s",
    # an operator's or admin's key whose stored answer names the person (a credit grant to
    # them): only their keys are read, through the key's (user_id, ...) index
    "DELETE k FROM idempotency_keys k JOIN users a ON a.id = k.user_id AND a.role <> 'user' "
    "WHERE JSON_SEARCH(k.response_body, 'one', %(old_public)s) IS NOT NULL",
    "DELETE s FROM task_steps s JOIN tasks t ON t.id = s.task_id WHERE t.user_id = %(old)s",
    "DELETE FROM quota_reservations WHERE user_id = %(old)s",
    "DELETE FROM tasks WHERE user_id = %(old)s",
    "DELETE FROM uploads WHERE user_id = %(old)s",
    "DELETE FROM refresh_tokens WHERE user_id = %(old)s",
    "DELETE FROM password_resets WHERE user_id = %(old)s",
    "DELETE FROM email_verifications WHERE user_id = %(old)s",
    "DELETE FROM memberships WHERE user_id = %(old)s",
    "DELETE FROM quota_accounts WHERE user_id = %(old)s",
    "DELETE FROM users WHERE id = %(old)s",
)


class ErasureRepository:
    """The SQL of `retouch.erasure`. Nothing here commits."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def mark_requested(self, user_id: int, *, at: datetime) -> None:
        """When the owner asked: the erasure waits its grace from then."""
        self._uow.execute(
            "UPDATE users SET deletion_requested_at = %s WHERE id = %s", (to_db(at), user_id)
        )

    def pending(self, *, requested_before: datetime, limit: int) -> list[int]:
        """Accounts deleted before `requested_before` and not erased yet, oldest first."""
        rows = self._uow.fetch_all(_PENDING, (to_db(requested_before), limit))
        return [int(row["id"]) for row in rows]

    def unverified(self, *, created_before: datetime, limit: int) -> list[str]:
        """Active accounts never verified, signed up before `created_before`, oldest first:
        their public ids."""
        rows = self._uow.fetch_all(_UNVERIFIED, (to_db(created_before), limit))
        return [str(row["public_id"]) for row in rows]

    def locked_pending(self, user_id: int) -> str | None:
        """The public id of `user_id`, locked, when it still waits for its erasure."""
        row = self._uow.fetch_one(
            "SELECT public_id, status FROM users WHERE id = %s FOR UPDATE", (user_id,)
        )
        return None if row is None or row["status"] != "deleting" else str(row["public_id"])

    def active_tasks(self, user_id: int) -> list[str]:
        """The public ids of the account's tasks still queued or running."""
        return [row["public_id"] for row in self._uow.fetch_all(_ACTIVE_TASKS, (user_id,))]

    def object_keys(self, user_id: int) -> set[str]:
        """Every stored object the account's uploads and tasks name: uploads, results, and the
        pipeline's intermediate images (named in the steps' states)."""
        keys = {row["object_key"] for row in self._uow.fetch_all(_UPLOAD_KEYS, (user_id,))}
        for row in self._uow.fetch_all(_TASK_DOCUMENTS, (user_id,)):
            for document in (row["output"], row["state"]):
                if document is not None:
                    keys.update(object_keys_in(json.loads(document)))
        return keys

    def erase(self, user_id: int, *, public_id: str, now: datetime) -> str:
        """Erase the account `user_id` (locked by the caller); the public id of the `deleted`
        row that keeps its anonymised ledger and orders."""
        kept_public_id = new_public_id("usr")
        self._uow.execute(
            "INSERT INTO users (public_id, email, password_hash, role, status, created_at, "
            "updated_at) VALUES (%s, %s, '', 'user', 'deleted', %s, %s)",
            (
                kept_public_id,
                f"{secrets.token_hex(16)}@{PLACEHOLDER_DOMAIN}",
                to_db(now),
                to_db(now),
            ),
        )
        names = {
            "old": user_id,
            "new": self._uow.last_insert_id(),
            "old_public": public_id,
            "new_public": kept_public_id,
        }
        for statement in (*_MOVE, *_DELETE):
            self._uow.execute(statement, names)
        return kept_public_id


def object_keys_in(document: Any) -> Iterator[str]:
    """The object keys of ours anywhere in a JSON document."""
    if isinstance(document, str):
        if document.split("/", 1)[0] in PERSONAL_ROOTS:
            try:
                yield validate_key(document)
            except InvalidStorageKey:
                return
    elif isinstance(document, dict):
        for value in document.values():
            yield from object_keys_in(value)
    elif isinstance(document, list):
        for value in document:
            yield from object_keys_in(value)
