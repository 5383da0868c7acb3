"""Account deletion on the real MariaDB, Redis and local object storage: `DELETE /v1/me` ends
the account at once, the erasure job leaves no row and no object naming the person (only the
anonymised ledger and orders, under a new id), a wrong password deletes nothing and counts
towards the lockout, and an erasure stopped halfway by a storage fault is finished by the next
run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retouch.auth.attempts import LoginGuard
from retouch.caller.service import authenticate
from retouch.core.db import get_database
from retouch.core.identity import Principal
from retouch.core.lockout import get_lockouts
from retouch.core.ratelimit import get_rate_limiter
from retouch.core.redis import get_redis
from retouch.core.security import TokenConfig
from retouch.core.settings import get_settings
from retouch.core.time import utc_now
from retouch.erasure.job import ErasureFailed, erase_deleted_accounts
from retouch.erasure.service import delete_account
from retouch.storage import get_storage
from retouch.storage.errors import StorageUnavailable
from retouch.storage.local import LocalStorage
from tests.conftest import FakeLambdaContext, load_event, load_function
from tests.integration.erasure_support import (
    Person,
    finished_with_objects,
    kept_ledger,
    new_person,
    object_keys,
    objects_naming,
    redis_keys_naming,
    rows_naming,
    stored_upload,
)
from tests.integration.identity_support import (
    PASSWORD,
    Api,
    bearer,
    new_account,
    new_client_ip,
)
from tests.integration.payments_support import notification, send
from tests.integration.pipeline_support import local_storage
from tests.integration.task_support import new_upload, tasks_app

pytestmark = pytest.mark.integration

LATER = timedelta(hours=2)  # past the erasure's grace


class FailingDeletes(LocalStorage):
    """Object storage that goes down after `allowed` deletes, as a cloud outage would."""

    allowed = 1

    def delete(self, key: str) -> None:
        if self.allowed <= 0:
            raise StorageUnavailable("object storage unreachable")
        self.allowed -= 1
        super().delete(key)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return local_storage(tmp_path / "objects")


@pytest.fixture
def tasks(api: Api) -> Iterator[TestClient]:
    with TestClient(tasks_app(), raise_server_exceptions=False) as client:
        yield client


def erase(storage: LocalStorage) -> dict[str, object]:
    return erase_deleted_accounts(
        database=get_database("job"),
        storage=storage,
        settings=get_settings(),
        clock=lambda: utc_now() + LATER,
    )


def signed_in(api: Api, person: Person) -> dict[str, str]:
    response = api.login(person.email)
    assert response.status_code == 200, response.text
    return dict(response.json())


def delete_me(api: Api, access_token: str, password: str = PASSWORD) -> Any:
    return api.users.request(
        "DELETE", "/v1/me", json={"password": password}, headers=bearer(access_token)
    )


def status_of(person: Person) -> str | None:
    with get_database().read_only() as uow:
        row = uow.fetch_one("SELECT status FROM users WHERE id = %s", (person.id,))
    return None if row is None else str(row["status"])


def create_task(tasks: TestClient, person: Person, headers: dict[str, str], key: str) -> str:
    body = {"feature": "cutout", "inputs": {"image": new_upload(person.public_id)}}
    response = tasks.post("/v1/tasks", json=body, headers={**headers, "Idempotency-Key": key})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def a_full_account(
    api: Api, tasks: TestClient, storage: LocalStorage, person: Person
) -> dict[str, Any]:
    """Everything an account leaves: sessions, uploads, a finished task with its objects, a
    queued task, a paid order, a failed sign-in, an admin's credit grant (audited, with the
    admin's idempotency key), and the ledger rows all of that wrote."""
    pair = signed_in(api, person)
    headers = bearer(pair["access_token"])
    stored_upload(storage, person)
    finished = create_task(tasks, person, headers, "first-task")
    finished_with_objects(storage, finished)
    create_task(tasks, person, headers, "second-task")  # still queued at deletion
    order = api.users.post("/v1/orders", json={"product": "credits_500"}, headers=headers)
    assert order.status_code == 201, order.text
    assert send(api, notification(order.json()["id"], 1500)).status_code == 200
    assert api.login(person.email, "Wrong-Password-1").status_code == 401
    _admin, admin_headers = new_account("admin")
    grant = api.users.post(
        f"/v1/admin/users/{person.public_id}/credits",
        json={"amount": 7, "reason": f"goodwill for {person.email}"},
        headers={**admin_headers, "Idempotency-Key": "grant-1"},
    )
    assert grant.status_code == 200, grant.text
    return {"pair": pair, "order": order.json()["id"]}


def test_an_erased_account_leaves_no_row_or_object_naming_the_person(
    api: Api, tasks: TestClient, storage: LocalStorage
) -> None:
    # GIVEN an account with every kind of data, and its ledger as accounting sees it
    person = new_person()
    made = a_full_account(api, tasks, storage, person)
    assert rows_naming(person) and objects_naming(storage.root, person)
    other = new_person()  # a bystander whose data must stay
    stored_upload(storage, other)

    # WHEN the owner deletes the account with its password
    response = delete_me(api, made["pair"]["access_token"])

    # THEN it stops at once: the access and refresh tokens answer 401
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "deleting"
    assert api.me(made["pair"]["access_token"]).status_code == 401
    assert api.refresh(made["pair"]["refresh_token"]).status_code == 401
    assert api.login(person.email).status_code == 401
    # AND its queued task was canceled, its credits returned
    ledger = kept_ledger(person.id)
    assert [row["kind"] for row in ledger].count("refund") == 1

    # WHEN the erasure job runs past the grace
    report = erase(storage)

    # THEN nothing in any table or stored object names the person
    assert report["erased"] == 1 and report["failed"] == 0
    assert rows_naming(person) == []
    assert objects_naming(storage.root, person) == []
    assert redis_keys_naming(person) == []
    assert not any("/tsk_" in key or key.startswith("work/") for key in object_keys(storage.root))
    # AND the ledger and the order are kept, anonymised, under the new account
    kept = _order(made["order"])["user_id"]
    assert _status_by_id(kept) == "deleted"
    assert [(r["kind"], r["amount"], r["created_at"]) for r in kept_ledger(kept)] == [
        (r["kind"], r["amount"], r["created_at"]) for r in ledger
    ]
    assert all(row["reason"] is None for row in kept_ledger(kept))
    top_up = [row for row in kept_ledger(kept) if row["kind"] == "top_up"]
    assert [row["ref"] for row in top_up] == [made["order"]]
    assert _order(made["order"]) == {"user_id": kept, "status": "paid", "amount_cents": 1500}
    # AND the bystander's data is untouched
    assert status_of(other) == "active" and objects_naming(storage.root, other)
    # AND the address can register again, as a new account
    again = api.register(person.email)
    assert again["user"]["id"] != person.public_id


def test_a_wrong_password_deletes_nothing_and_counts_towards_the_lockout(
    api: Api, identity_apps: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a limit of 3 failed sign-ins per account a minute, and an account's access token
    # in the hands of someone at another address
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_MIN", "3")
    person = new_person()
    token = signed_in(api, person)["access_token"]
    elsewhere = TestClient(identity_apps[1], client=(new_client_ip(), 50000))

    # WHEN they try to delete it with wrong passwords
    answers = [
        elsewhere.request(
            "DELETE", "/v1/me", json={"password": "Wrong-Password-1"}, headers=bearer(token)
        )
        for _ in range(4)
    ]

    # THEN each is refused with one stable code, until the account's lockout refuses them
    assert [a.status_code for a in answers] == [403, 403, 403, 429]
    assert [a.json()["code"] for a in answers] == ["PASSWORD_NOT_CONFIRMED"] * 3 + ["RATE_LIMITED"]
    # AND nothing was deleted: the account and its session still work
    assert status_of(person) == "active"
    assert api.me(token).status_code == 200
    # AND the lockout is the sign-in's: a new address cannot sign in either
    locked = TestClient(identity_apps[0], client=(new_client_ip(), 50000))
    assert (
        locked.post(
            "/v1/auth/login", json={"email": person.email, "password": PASSWORD}
        ).status_code
        == 429
    )


def test_deleting_twice_answers_the_same_and_deletes_once(api: Api) -> None:
    # GIVEN a signed-in account, and its caller as the request saw it
    person = new_person()
    token = signed_in(api, person)["access_token"]
    principal = _principal(token)

    # WHEN it is deleted, then the same request comes again (a retry racing the first)
    first = delete_me(api, token)
    again = delete_account(
        database=get_database(),
        settings=get_settings(),
        redis=get_redis(),
        guard=LoginGuard(limiter=get_rate_limiter(), lockouts=get_lockouts()),
        principal=principal,
        password=PASSWORD,
        client_ip="198.51.100.7",
    )

    # THEN both answer that the account is deleting; one deletion is recorded
    assert first.status_code == 202
    assert again.model_dump() == first.json()
    assert _deleted_rows(person) == 1
    # AND the old token is refused from now on
    assert delete_me(api, token).status_code == 401


def test_an_erasure_stopped_by_a_storage_fault_is_finished_by_the_next_run(
    api: Api, tasks: TestClient, tmp_path: Path
) -> None:
    # GIVEN a deleted account with several stored objects, and storage failing midway
    healthy = local_storage(tmp_path / "objects")
    failing = FailingDeletes(root=healthy.root, base_url=healthy.base_url, signer=healthy.signer)
    person = new_person()
    made = a_full_account(api, tasks, healthy, person)
    stored = object_keys(healthy.root)
    assert delete_me(api, made["pair"]["access_token"]).status_code == 202

    # WHEN the erasure runs and storage goes down after one delete
    with pytest.raises(ErasureFailed):
        erase(failing)

    # THEN the account waits, whole, for the next run
    assert status_of(person) == "deleting"
    assert 0 < len(object_keys(healthy.root)) < len(stored)  # one object went, not all
    assert rows_naming(person)

    # WHEN the next run finds storage back, and a third runs after it
    finished = erase(healthy)
    after = erase(healthy)

    # THEN the erasure is complete, and nothing is left to do
    assert finished["erased"] == 1 and after["erased"] == 0
    assert rows_naming(person) == [] and objects_naming(healthy.root, person) == []
    assert object_keys(healthy.root) == set()


def test_the_hourly_retention_run_erases_accounts_past_their_grace(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the stack's storage under a folder of this test, and an account deleted two
    # hours ago with an upload
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    person = new_person()
    stored_upload(get_storage(), person)
    assert delete_me(api, signed_in(api, person)["access_token"]).status_code == 202
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE users SET deletion_requested_at = deletion_requested_at - INTERVAL 2 HOUR "
            "WHERE id = %s",
            (person.id,),
        )
        uow.commit()
    function = load_function("functions/jobs/retention/app.py")

    # WHEN EventBridge invokes the retention function
    result = function.handler(load_event("retention_aws_schedule.json"), FakeLambdaContext())

    # THEN its run erased the account with its object, beside the tables' rules
    assert result["accounts"]["erased"] >= 1 and "audit_logs" in result
    assert rows_naming(person) == [] and objects_naming(tmp_path / "objects", person) == []


def test_an_admin_deletes_an_account_as_its_owner_would(api: Api, storage: LocalStorage) -> None:
    # GIVEN a signed-in account with an upload, an admin and an operator
    person = new_person()
    token = signed_in(api, person)["access_token"]
    stored_upload(storage, person)
    admin, admin_headers = new_account("admin")
    _operator, operator_headers = new_account("operator")
    path = f"/v1/admin/users/{person.public_id}"

    # WHEN the operator, the admin on themselves, then the admin twice ask for the deletion
    by_operator = api.users.delete(path, headers=operator_headers)
    own = api.users.delete(f"/v1/admin/users/{admin['id']}", headers=admin_headers)
    first = api.users.delete(path, headers=admin_headers)
    again = api.users.delete(path, headers=admin_headers)

    # THEN only the admin's deletes it, once; asking again answers the same
    assert (by_operator.status_code, own.status_code) == (403, 403)
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()
    assert api.me(token).status_code == 401
    assert _deleted_rows(person) == 1
    # AND once erased, the account is gone for the admin too
    erase(storage)
    assert rows_naming(person) == [] and objects_naming(storage.root, person) == []
    assert api.users.delete(path, headers=admin_headers).status_code == 404


def _principal(token: str) -> Principal:
    return authenticate(
        database=get_database(),
        config=TokenConfig.from_settings(get_settings()),
        access_token=token,
    )


def _deleted_rows(person: Person) -> int:
    with get_database().read_only() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM audit_logs WHERE action = 'account.deleted' "
            "AND target_id = %s",
            (person.public_id,),
        )
    assert row is not None
    return int(row["n"])


def _status_by_id(user_id: int) -> str:
    with get_database().read_only() as uow:
        row = uow.fetch_one(
            "SELECT status, email, password_hash FROM users WHERE id = %s", (user_id,)
        )
    assert row is not None and row["password_hash"] == ""
    assert str(row["email"]).endswith("@erased.invalid")
    return str(row["status"])


def _order(public_id: str) -> dict[str, Any]:
    with get_database().read_only() as uow:
        row = uow.fetch_one(
            "SELECT user_id, status, amount_cents FROM orders WHERE public_id = %s", (public_id,)
        )
    assert row is not None
    return {k: int(v) if k != "status" else v for k, v in row.items()}
