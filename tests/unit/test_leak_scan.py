"""The rules of the suite-wide leak scan: each one fires on a crafted body and stays quiet on
the bodies the API legitimately answers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.leak_scan import (
    INTERNAL_ID,
    PASSWORD_FIELD,
    PASSWORD_HASH,
    VENDOR_NAME,
    VENDOR_TASK_ID,
    VENDOR_URL,
    Finding,
    scan,
)

ARGON2_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
STORAGE_HOST = "files.retouch.test"


def findings(body: Any, path: str = "/v1/me", **options: Any) -> list[tuple[str, str]]:
    return [
        (finding.rule, finding.json_path)
        for finding in scan(method="GET", path=path, body=body, **options)
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"note": ARGON2_HASH}, [(PASSWORD_HASH, "$.note")]),
        ({"h": "$2b$12$abcdefghijklmnopqrstuu"}, [(PASSWORD_HASH, "$.h")]),
        ([{"h": "$pbkdf2-sha256$29000$salt$hash"}], [(PASSWORD_HASH, "$[0].h")]),
        ({"user": {"password_hash": "x"}}, [(PASSWORD_FIELD, "$.user.password_hash")]),
        ({"Password": "secret"}, [(PASSWORD_FIELD, "$.Password")]),
    ],
)
def test_password_hashes_and_password_fields_are_found(
    body: Any, expected: list[tuple[str, str]]
) -> None:
    assert findings(body) == expected


def test_numeric_ids_are_found_at_any_depth() -> None:
    body = {
        "id": 7,
        "items": [{"user_id": 12, "upload": {"task_id": 3.0}}],
        "next": {"Upload_ID": 9},
    }

    assert findings(body) == [
        (INTERNAL_ID, "$.id"),
        (INTERNAL_ID, "$.items[0].user_id"),
        (INTERNAL_ID, "$.items[0].upload.task_id"),
        (INTERNAL_ID, "$.next.Upload_ID"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"names": ["RunningHub"]},
        {"detail": "hunyuan timed out"},
        {"sdk": "TencentCloud.aiart"},
        {"FaceFusion": True},
        {"endpoint": "bda.tencentcloudapi"},
    ],
)
def test_vendor_names_are_found_in_values_and_keys(body: dict[str, Any]) -> None:
    assert VENDOR_NAME in {rule for rule, _ in findings(body)}


@pytest.mark.parametrize(
    "text",
    [
        "https://www.runninghub.cn/task/openapi/create",
        "see api.runninghub.ai/v1",
        "https://aiart.tencentcloudapi.com",
        "https://cdn.example.net/result.png",
        "wss://push.example.org:8443/stream",
    ],
)
def test_urls_of_vendors_and_foreign_hosts_are_found(text: str) -> None:
    assert (VENDOR_URL, "$.url") in findings({"url": text})


@pytest.mark.parametrize("key", ["vendor_task_id", "provider_task_id", "provider_job_id", "job_id"])
def test_vendor_task_id_keys_are_found_whatever_their_value(key: str) -> None:
    assert findings({"task": {key: "a1b2"}}) == [(VENDOR_TASK_ID, f"$.task.{key}")]


def test_a_provider_key_is_found_outside_admin_routes() -> None:
    assert findings({"items": [{"provider": "local"}]}) == [(VENDOR_TASK_ID, "$.items[0].provider")]


def test_legitimate_public_bodies_have_no_findings() -> None:
    # GIVEN what public routes answer: prefixed ids, numbers under other names, our storage's
    # URLs, the problem type URI, the JSON Schema dialect, a lambda ARN-like text
    body = {
        "id": "usr_4kq8y2m1x0v7",
        "user": {"id": "usr_4kq8y2m1x0v7", "email": "a@example.com", "balance": 30},
        "upload": {
            "id": "upl_9b1f",
            "url": f"https://{STORAGE_HOST}/uploads/usr_4kq8/upl_9b1f?X-Retouch-Expires=1",
            "local": "http://127.0.0.1:8000/_storage/uploads/a?sig=1",
        },
        "type": "https://retouch.app/problems/not-found",
        "form_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema"},
        "expires_in": 900,
        "request_id": "3f1c0b7e-0d4a-4c1b-9a55-0f8f0c7a1e2d",
        "function": "aws.lambda.handler",
        "ok": True,
        "valid": {"id": True},
    }

    assert findings(body, allowed_hosts={STORAGE_HOST}) == []


def test_admin_routes_may_show_providers_but_never_hashes_or_numeric_ids() -> None:
    # GIVEN an admin body naming a provider, its endpoint and its job key, plus two leaks
    body = {
        "key": "runninghub",
        "kind": "runninghub",
        "provider": "hunyuan",
        "settings": {"endpoint": "https://www.runninghub.cn", "job_id": "j-1"},
        "owner": {"id": 41, "password_hash": ARGON2_HASH},
    }

    # WHEN it is scanned as the answer of an admin route, and of a public route
    admin = findings(body, path="/v1/admin/providers/runninghub")
    public = findings(body, path="/v1/features")

    # THEN the admin route keeps only the hash and the numeric id; the public one has all
    assert admin == [
        (INTERNAL_ID, "$.owner.id"),
        (PASSWORD_FIELD, "$.owner.password_hash"),
        (PASSWORD_HASH, "$.owner.password_hash"),
    ]
    assert {rule for rule, _ in public} == {
        VENDOR_NAME,
        VENDOR_URL,
        VENDOR_TASK_ID,
        INTERNAL_ID,
        PASSWORD_FIELD,
        PASSWORD_HASH,
    }


def test_a_route_only_starting_like_admin_is_not_exempt() -> None:
    assert findings({"kind": "hunyuan"}, path="/v1/administrators") == [(VENDOR_NAME, "$.kind")]


def test_the_openapi_document_may_name_request_fields_and_provider_kinds() -> None:
    schema = {"properties": {"password": {"type": "string"}, "kind": {"enum": ["runninghub"]}}}

    assert findings(schema, path="/openapi.json") == []
    assert findings({"example": {"id": 3}}, path="/openapi.json") == [(INTERNAL_ID, "$.example.id")]


def test_a_finding_carries_the_offending_value() -> None:
    [finding] = scan(method="GET", path="/v1/me", body={"note": ARGON2_HASH})

    assert finding == Finding(PASSWORD_HASH, "$.note", ARGON2_HASH)
