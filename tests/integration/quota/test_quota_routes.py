"""GET /v1/me/quota and /v1/me/quota/ledger over HTTP, with real access tokens."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from retouch.core.db import Database, get_database
from retouch.http import create_app
from retouch.quota.reservations import charge, reserve
from retouch.quota.router import router
from tests.conftest import Stack
from tests.integration.identity_support import sign_up
from tests.integration.quota_support import new_ref

pytestmark = pytest.mark.integration


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app([router])) as client:
        yield client


@pytest.fixture
def database(stack: Stack) -> Database:
    return get_database()


def signed_up(database: Database) -> tuple[int, dict[str, str]]:
    """A user registered through the auth service: internal id and Authorization header."""
    email = f"quota-{secrets.token_hex(6)}@example.test"
    tokens = sign_up(email, "Quota-test-9")
    with database.unit_of_work() as uow:
        row = uow.fetch_one("SELECT id FROM users WHERE email = %s", (email,))
    assert row is not None
    return int(row["id"]), {"Authorization": f"Bearer {tokens.access_token}"}


def test_quota_shows_the_callers_balance_reserved_plan_and_period_end(
    client: TestClient, database: Database
) -> None:
    user_id, auth = signed_up(database)
    reserve(database=database, user_id=user_id, amount=12, task_ref=new_ref())

    response = client.get("/v1/me/quota", headers=auth)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"balance", "reserved", "plan", "period_end"}
    assert (body["balance"], body["reserved"], body["plan"]) == (88, 12, "free")
    assert body["period_end"].endswith(("Z", "+00:00"))


def test_the_ledger_pages_newest_first_to_the_end(client: TestClient, database: Database) -> None:
    user_id, auth = signed_up(database)
    for amount in (1, 2, 3):
        ref = new_ref()
        reserve(database=database, user_id=user_id, amount=amount, task_ref=ref)
        charge(database=database, task_ref=ref)

    kinds, cursor = [], None
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        response = client.get("/v1/me/quota/ledger", headers=auth, params=params)
        assert response.status_code == 200
        page = response.json()
        kinds += [(item["kind"], item["amount"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert kinds == [
        ("charge", 0),
        ("reserve", -3),
        ("charge", 0),
        ("reserve", -2),
        ("charge", 0),
        ("reserve", -1),
        ("period_grant", 100),
    ]
    item = client.get("/v1/me/quota/ledger", headers=auth).json()["items"][0]
    # no internal id, user id or ref leaves the server
    assert set(item) == {"kind", "amount", "balance_after", "reason", "created_at"}


def _ledger_cursor(client: TestClient, database: Database) -> tuple[str, dict[str, str]]:
    """A user with a ledger of two pages: the first page's cursor and the user's header."""
    user_id, auth = signed_up(database)
    reserve(database=database, user_id=user_id, amount=1, task_ref=new_ref())
    page = client.get("/v1/me/quota/ledger", headers=auth, params={"limit": "1"}).json()
    assert page["next_cursor"] is not None
    return page["next_cursor"], auth


def _assert_cursor_refused(response: Response) -> None:
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["query.cursor"]


def test_the_ledger_cursor_shows_no_internal_id(client: TestClient, database: Database) -> None:
    cursor, auth = _ledger_cursor(client, database)
    with database.unit_of_work() as uow:
        row = uow.fetch_one("SELECT MAX(id) AS id FROM quota_ledger")
    assert row is not None

    for part in cursor.split("."):
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        assert not re.search(rb"\[\d+\]", decoded)
        assert str(row["id"]).encode() not in decoded
    page = client.get("/v1/me/quota/ledger", headers=auth, params={"cursor": cursor})
    assert [item["kind"] for item in page.json()["items"]] == ["period_grant"]


def test_an_edited_ledger_cursor_is_422(client: TestClient, database: Database) -> None:
    cursor, auth = _ledger_cursor(client, database)
    edited = ("B" if cursor[0] == "A" else "A") + cursor[1:]
    forged = base64.urlsafe_b64encode(b"[1]").rstrip(b"=").decode()

    for sent in (edited, forged, f"{forged}.{cursor.split('.')[1]}"):
        _assert_cursor_refused(
            client.get("/v1/me/quota/ledger", headers=auth, params={"cursor": sent})
        )


def test_another_users_ledger_cursor_is_422(client: TestClient, database: Database) -> None:
    cursor, _ = _ledger_cursor(client, database)
    _, other = signed_up(database)

    _assert_cursor_refused(
        client.get("/v1/me/quota/ledger", headers=other, params={"cursor": cursor})
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"limit": "101"}, "query.limit"),
        ({"limit": "0"}, "query.limit"),
    ],
)
def test_a_bad_cursor_or_limit_is_422(
    client: TestClient, database: Database, params: dict[str, str], field: str
) -> None:
    _, auth = signed_up(database)

    response = client.get("/v1/me/quota/ledger", headers=auth, params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "VALIDATION_FAILED"
    assert [error["field"] for error in response.json()["errors"]] == [field]


@pytest.mark.parametrize("path", ["/v1/me/quota", "/v1/me/quota/ledger"])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
def test_quota_routes_need_a_valid_access_token(
    client: TestClient, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] in ("UNAUTHENTICATED", "TOKEN_EXPIRED")
