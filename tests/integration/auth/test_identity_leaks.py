"""No identity response, success or problem, carries a password hash, an internal id or a
stored token digest (DESIGN §3)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from retouch.core.settings import get_settings
from tests.integration.identity_support import (
    PASSWORD,
    Api,
    bearer,
    internal_id,
    link_token,
    mail_to,
    new_email,
)

pytestmark = pytest.mark.integration

FORBIDDEN_TEXT = ("argon2", "password_hash", "token_hash", "family_id", "Traceback", "pymysql")


def _integer_ids(value: Any) -> list[tuple[str, Any]]:
    """Every `...id` key whose value is a number, anywhere in a JSON document."""
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("id") and isinstance(item, int):
                found.append((key, item))
            found += _integer_ids(item)
    elif isinstance(value, list):
        for item in value:
            found += _integer_ids(item)
    return found


def test_no_identity_response_leaks_hashes_internal_ids_or_internals(api: Api) -> None:
    # GIVEN an admin and a user going through every identity route, good calls and bad
    _, admin = api.signed_in("admin")
    email = new_email("leak")
    responses: list[httpx.Response] = []
    send = responses.append

    send(api.auth.post("/v1/auth/register", json={"email": email, "password": PASSWORD}))
    token = link_token(mail_to(api.mail, email), get_settings().email_verification_url)
    send(api.auth.post("/v1/auth/verify", json={"token": token}))
    pair = responses[-1].json()
    target = pair["user"]["id"]
    send(api.auth.post("/v1/auth/verify", json={"token": token}))
    send(api.auth.post("/v1/auth/verify/resend", json={"email": email}))
    send(api.auth.post("/v1/auth/register", json={"email": email, "password": PASSWORD}))
    send(api.auth.post("/v1/auth/register", json={"email": email, "password": "x", "role": 1}))
    send(api.login(email))
    send(api.login(email, "Wrong-Password-1"))
    send(api.refresh(pair["refresh_token"]))
    send(api.refresh(pair["refresh_token"]))
    send(api.me(pair["access_token"]))
    send(api.users.get("/v1/admin/users", headers=bearer(pair["access_token"])))
    send(api.users.get("/v1/admin/users", params={"limit": "1"}, headers=admin))
    send(api.users.get(f"/v1/admin/users/{target}", headers=admin))
    send(api.users.patch(f"/v1/admin/users/{target}", json={"role": "operator"}, headers=admin))
    send(
        api.users.post(
            f"/v1/admin/users/{target}/credits", json={"amount": 3, "reason": "r"}, headers=admin
        )
    )
    send(api.users.get("/v1/admin/users/usr_doesnotexist0000", headers=admin))
    send(api.auth.post("/v1/auth/logout", headers=bearer(pair["access_token"])))
    send(api.me(pair["access_token"]))

    # THEN none of them carries a hash, an internal id or an internal name
    assert {response.status_code for response in responses} >= {
        200,
        202,
        204,
        400,
        401,
        403,
        404,
        422,
    }
    internal = str(internal_id(target))
    for response in responses:
        text = response.text + json.dumps(dict(response.headers))
        assert not [word for word in FORBIDDEN_TEXT if word.lower() in text.lower()], text
        if response.content:
            assert _integer_ids(response.json()) == [], text
            assert f'"{internal}"' not in text and f":{internal}," not in text
