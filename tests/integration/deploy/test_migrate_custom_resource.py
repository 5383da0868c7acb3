"""The `migrate` function as CloudFormation runs it on AWS (the `Migrations` custom resource
of template.yaml): its built package, the real MariaDB, and a loopback HTTP server standing in
for the presigned S3 URL that receives the answer (retouch.bootstrap.custom_resource)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.local.lambda_runtime import FakeLambdaContext
from tests.conftest import Stack
from tests.integration.cfn_support import answer_receiver
from tests.integration.deploy.test_migrate_function import _register, _role_and_audit

pytestmark = pytest.mark.integration

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/retouch-dev/0f1e2d3c-aaaa"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback server for the answers: its presigned-like URL and what it received."""
    with answer_receiver() as pair:
        yield pair


def _request(url: str, request_type: str, **extra: Any) -> dict[str, Any]:
    """A CloudFormation custom-resource request as Lambda receives it."""
    return {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:retouch-dev-Migrate",
        "ResponseURL": url,
        "StackId": STACK_ID,
        "RequestId": secrets.token_hex(8),
        "LogicalResourceId": "Migrations",
        "ResourceType": "AWS::CloudFormation::CustomResource",
        "ResourceProperties": {"ServiceToken": "arn:...", "CodeVersion": "3"} | extra,
    }


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cloud's network policy: the seed's loopback simulator is refused there."""
    monkeypatch.setenv("RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK", "false")


def test_create_then_update_migrate_seed_promote_and_answer_success_on_the_url(
    stack: Stack, migrate_app: Any, cloud: None, receiver: Any
) -> None:
    # GIVEN a registered user named as the first admin
    url, received = receiver
    email = f"cfn-admin-{secrets.token_hex(4)}@example.com"
    _register(email)
    create = _request(url, "Create", FirstAdminEmail=email)

    # WHEN CloudFormation creates the resource, then updates it (the next deploy)
    answer = migrate_app.handler(create, FakeLambdaContext())
    update = _request(url, "Update", FirstAdminEmail=email) | {
        "PhysicalResourceId": answer["PhysicalResourceId"]
    }
    again = migrate_app.handler(update, FakeLambdaContext())

    # THEN each run PUT a SUCCESS answer for its request to the URL, with what it did
    assert [r["body"] for r in received] == [answer, again]
    assert received[0]["path"] == "/cfn-answer?X-Amz-Signature=abc"
    assert received[0]["headers"].get("Content-Type", "") == ""
    assert answer["Status"] == again["Status"] == "SUCCESS"
    assert answer["RequestId"] == create["RequestId"] and answer["StackId"] == STACK_ID
    assert answer["Data"]["first_admin"] == "promoted" and answer["Data"]["seed_entries"] > 0
    assert again["Data"] == answer["Data"] | {"first_admin": "already admin"}
    # the same physical id on every deploy (an update never replaces, so never deletes)
    assert answer["PhysicalResourceId"] == again["PhysicalResourceId"] == "retouch-dev-Migrations"
    assert _role_and_audit(email) == ("admin", 1)


def test_delete_answers_success_and_changes_nothing(
    stack: Stack, migrate_app: Any, cloud: None, receiver: Any
) -> None:
    # GIVEN a registered user named in the resource being deleted
    url, received = receiver
    email = f"cfn-delete-{secrets.token_hex(4)}@example.com"
    _register(email)
    delete = _request(url, "Delete", FirstAdminEmail=email) | {
        "PhysicalResourceId": "retouch-dev-Migrations"
    }

    # WHEN CloudFormation deletes the resource (stack deleted, or a failed create rolled back)
    answer = migrate_app.handler(delete, FakeLambdaContext())

    # THEN it answered SUCCESS with the id it was given and promoted nobody
    assert [r["body"] for r in received] == [answer]
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", "retouch-dev-Migrations")
    assert answer["Data"] == {}
    assert _role_and_audit(email) == ("user", 0)


def test_a_failing_migration_answers_failed_with_the_error_so_the_deploy_rolls_back(
    stack: Stack,
    migrate_app: Any,
    cloud: None,
    receiver: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the package's migrations plus a new one the database rejects
    url, received = receiver
    broken = tmp_path / "migrations"
    shutil.copytree(migrate_app.MIGRATIONS, broken)
    (broken / "9999.broken.sql").write_text("INSERT INTO no_such_table (x) VALUES (1);\n")
    monkeypatch.setattr(migrate_app, "MIGRATIONS", broken)

    # WHEN CloudFormation sends the Update of a deploy carrying it
    answer = migrate_app.handler(_request(url, "Update"), FakeLambdaContext())

    # THEN the answer is FAILED with the database's error as the reason (shown in the stack's
    # events), and the broken migration is not recorded as applied: the rollback re-runs clean
    assert [r["body"] for r in received] == [answer]
    assert answer["Status"] == "FAILED" and "no_such_table" in answer["Reason"]
    assert answer["Data"] == {}
    rerun = migrate_app.handler(_request(url, "Update"), FakeLambdaContext())
    assert rerun["Status"] == "FAILED" and "no_such_table" in rerun["Reason"]


def test_an_unknown_request_type_answers_failed_without_running(
    stack: Stack, migrate_app: Any, cloud: None, receiver: Any
) -> None:
    url, received = receiver
    email = f"cfn-odd-{secrets.token_hex(4)}@example.com"
    _register(email)

    answer = migrate_app.handler(_request(url, "Replace", FirstAdminEmail=email), None)

    assert [r["body"] for r in received] == [answer]
    assert answer["Status"] == "FAILED" and "Replace" in answer["Reason"]
    assert _role_and_audit(email) == ("user", 0)


def test_invoked_by_hand_it_migrates_and_promotes_without_answering_cloudformation(
    stack: Stack, migrate_app: Any, cloud: None, receiver: Any
) -> None:
    # GIVEN a registered user, and no CloudFormation request (`aws lambda invoke` by hand)
    _url, received = receiver
    email = f"cli-admin-{secrets.token_hex(4)}@example.com"
    _register(email)

    # WHEN the Lambda handler gets {"first_admin_email": ...}
    result = migrate_app.handler({"first_admin_email": email}, FakeLambdaContext())

    # THEN it answered what it did, promoted the user, and PUT nothing anywhere
    assert result["first_admin"] == "promoted" and result["migrations_applied"] == 0
    assert _role_and_audit(email) == ("admin", 1)
    assert received == []
