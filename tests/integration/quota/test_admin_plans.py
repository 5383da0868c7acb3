"""Plans edited by admins on the real stack: `GET /v1/admin/plans` and `PUT
/v1/admin/plans/{code}` with its version in If-Match (a stale or missing one refused, two
edits at once: one lands), validated, audited, seen at once by `GET /v1/plans`; archived
plans leave the catalogue and new memberships and orders; the seed no longer overwrites an
edited plan. The plans edited here are the tests' own (priority 900+), archived after."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from retouch.core.db import get_database
from retouch.quota.schemas import PlanWrite
from retouch.quota.service import load_plans
from tests.integration.identity_support import Api, audit_rows

pytestmark = pytest.mark.integration

FEATURES = ["cutout", "eraser"]


def body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Test",
        "monthly_credits": 300,
        "features": FEATURES,
        "priority": 900,
        "price_display": "¥9 / month",
        "max_concurrent_tasks": 3,
        "max_input_pixels": 4000000,
        "archived": False,
        **changes,
    }


def seed(code: str, **changes: Any) -> None:
    fields = {key: value for key, value in body(**changes).items() if key != "archived"}
    load_plans(database=get_database(), plans=[PlanWrite(code=code, **fields)])


@pytest.fixture
def plan(api: Api) -> Iterator[str]:
    """A plan of this test's own, archived when the test ends."""
    code = f"t_{secrets.token_hex(4)}"
    seed(code)
    yield code
    with get_database().unit_of_work() as uow:
        uow.execute("UPDATE plans SET archived = 1 WHERE code = %s", (code,))
        uow.commit()


def put(
    api: Api, headers: dict[str, str], plan_code: str, version: str | None, /, **changes: Any
) -> httpx.Response:
    sent = headers if version is None else {**headers, "If-Match": version}
    response: httpx.Response = api.users.put(
        f"/v1/admin/plans/{plan_code}", json=body(**changes), headers=sent
    )
    return response


def admin_view(api: Api, headers: dict[str, str], code: str) -> dict[str, Any]:
    items = api.users.get("/v1/admin/plans", headers=headers).json()["items"]
    return next(item for item in items if item["code"] == code)


def public_codes(api: Api) -> list[str]:
    return [item["code"] for item in api.users.get("/v1/plans").json()["items"]]


def test_an_admin_edits_a_plan_named_by_its_version(api: Api, plan: str) -> None:
    actor, admin = api.signed_in("admin")
    assert admin_view(api, admin, plan)["version"] == 1

    response = put(api, admin, plan, '"1"', monthly_credits=450, name="Renamed")

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert (response.json()["version"], response.json()["monthly_credits"]) == (2, 450)
    public = next(p for p in api.users.get("/v1/plans").json()["items"] if p["code"] == plan)
    assert (public["name"], public["monthly_credits"]) == ("Renamed", 450)
    (row,) = audit_rows(plan)
    assert (row["action"], row["actor"]) == ("plan.update", actor["id"])
    assert (row["before_state"]["monthly_credits"], row["after_state"]["monthly_credits"]) == (
        300,
        450,
    )


def test_an_edit_against_an_old_version_or_without_one_is_refused(api: Api, plan: str) -> None:
    _, admin = api.signed_in("admin")
    assert put(api, admin, plan, '"1"', monthly_credits=1).status_code == 200

    stale = put(api, admin, plan, '"1"', monthly_credits=2)
    missing = put(api, admin, plan, None, monthly_credits=3)
    garbage = put(api, admin, plan, "not-a-version", monthly_credits=4)

    assert (stale.status_code, stale.json()["code"]) == (412, "PLAN_VERSION_STALE")
    assert (missing.status_code, missing.json()["code"]) == (428, "PRECONDITION_REQUIRED")
    assert (garbage.status_code, garbage.json()["code"]) == (412, "PLAN_VERSION_STALE")
    view = admin_view(api, admin, plan)
    assert (view["version"], view["monthly_credits"]) == (2, 1)
    assert len(audit_rows(plan)) == 1


def test_two_edits_of_one_version_at_once_land_once(api: Api, plan: str) -> None:
    _, admin = api.signed_in("admin")
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def edit(credits: int) -> None:
        barrier.wait()
        answers.append(put(api, admin, plan, '"1"', monthly_credits=credits).status_code)

    threads = [threading.Thread(target=edit, args=(credits,)) for credits in (10, 20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [200, 412]
    assert admin_view(api, admin, plan)["version"] == 2
    assert len(audit_rows(plan)) == 1


@pytest.mark.parametrize(
    ("changes", "status", "location"),
    [
        ({"features": ["cutout", "teleport"]}, 422, "body.features[1]"),
        ({"monthly_credits": -1}, 422, "body.monthly_credits"),
        ({"max_concurrent_tasks": 0}, 422, "body.max_concurrent_tasks"),
        ({"max_input_pixels": 0}, 422, "body.max_input_pixels"),
        ({"monthly_credits": "5"}, 422, "body.monthly_credits"),
        ({"code": "other"}, 422, "body.code"),
    ],
)
def test_bad_edits_are_refused_and_change_nothing(
    api: Api, plan: str, changes: dict[str, Any], status: int, location: str
) -> None:
    _, admin = api.signed_in("admin")

    response = put(api, admin, plan, '"1"', **changes)

    assert response.status_code == status, response.text
    assert location in {error["field"] for error in response.json()["errors"]}
    assert admin_view(api, admin, plan)["version"] == 1
    assert audit_rows(plan) == []


def test_the_default_plan_cannot_be_archived_and_unknown_plans_are_404(api: Api) -> None:
    _, admin = api.signed_in("admin")
    free = admin_view(api, admin, "free")
    version = f'"{free["version"]}"'

    archive = put(api, admin, "free", version, archived=True)
    unknown = put(api, admin, "t_nosuchplan", '"1"')

    assert archive.status_code == 422
    assert "body.archived" in {error["field"] for error in archive.json()["errors"]}
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    assert admin_view(api, admin, "free") == free


@pytest.mark.parametrize(("role", "read", "write"), [("user", 403, 403), ("operator", 200, 403)])
def test_plans_are_read_by_operators_and_edited_by_admins_only(
    api: Api, plan: str, role: str, read: int, write: int
) -> None:
    _, headers = api.signed_in(role)

    assert api.users.get("/v1/admin/plans", headers=headers).status_code == read
    assert put(api, headers, plan, '"1"', monthly_credits=1).status_code == write
    assert audit_rows(plan) == []


def test_an_archived_plan_leaves_the_catalogue_and_new_memberships(api: Api, plan: str) -> None:
    _, admin = api.signed_in("admin")
    member, member_headers = api.signed_in("user")
    given = api.users.patch(
        f"/v1/admin/users/{member['id']}/membership",
        json={"plan": plan, "expires_at": "2099-01-01T00:00:00Z", "reason": "test"},
        headers=admin,
    )
    assert given.status_code == 200, given.text
    assert plan in public_codes(api)

    assert put(api, admin, plan, '"1"', archived=True).status_code == 200

    assert plan not in public_codes(api)
    assert admin_view(api, admin, plan)["archived"] is True
    other, _ = api.signed_in("user")
    refused = api.users.patch(
        f"/v1/admin/users/{other['id']}/membership",
        json={"plan": plan, "expires_at": "2099-01-01T00:00:00Z", "reason": "test"},
        headers=admin,
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "plan_archived"
    # its members keep it until their expiry
    assert api.users.get("/v1/me", headers=member_headers).json()["membership"]["plan"] == plan


def test_a_plan_month_of_an_archived_plan_cannot_be_ordered(api: Api) -> None:
    _, admin = api.signed_in("admin")
    _, headers = api.signed_in("user")
    current = admin_view(api, admin, "max")
    fields = {key: current[key] for key in body() if key in current}
    archived = put(api, admin, "max", f'"{current["version"]}"', **{**fields, "archived": True})
    assert archived.status_code == 200, archived.text
    try:
        response = api.users.post("/v1/orders", json={"product": "max_month"}, headers=headers)
        pack = api.users.post("/v1/orders", json={"product": "credits_500"}, headers=headers)
    finally:
        restored = put(
            api, admin, "max", f'"{archived.json()["version"]}"', **{**fields, "archived": False}
        )
        assert restored.status_code == 200, restored.text

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.product"
    assert pack.status_code == 201


def test_the_seed_no_longer_overwrites_an_edited_plan(api: Api, plan: str) -> None:
    _, admin = api.signed_in("admin")
    untouched = f"t_{secrets.token_hex(4)}"
    seed(untouched)
    assert put(api, admin, plan, '"1"', monthly_credits=777).status_code == 200

    seed(plan, monthly_credits=1)
    seed(untouched, monthly_credits=2, priority=901)

    assert admin_view(api, admin, plan)["monthly_credits"] == 777
    assert admin_view(api, admin, untouched)["monthly_credits"] == 2
    with get_database().unit_of_work() as uow:
        uow.execute("UPDATE plans SET archived = 1 WHERE code = %s", (untouched,))
        uow.commit()
