"""What every sample event in events/ must get back from its function, on any interpreter: the
checks shared by test_sample_events (CPython 3.11, in process) and test_scf_runtime (CPython
3.10, in `.venv-scf`, as Tencent SCF runs)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from retouch.core.db import get_database
from scripts.local.lambda_runtime import ACCESS_TOKEN_PLACEHOLDER, OPERATOR_TOKEN_PLACEHOLDER
from scripts.local.sam import (
    CUSTOM_RESOURCE_EVENT_SHAPES,
    QUEUE_EVENT_SHAPES,
    SCHEDULE_EVENT_SHAPES,
    STORAGE_EVENT_SHAPES,
)
from tests.integration.cfn_support import RESPONSE_URL_PLACEHOLDER
from tests.integration.identity_support import sign_up


def _header(headers: dict[str, Any], name: str) -> Any:
    return {key.lower(): value for key, value in headers.items()}.get(name)


def _check_rest(event: dict[str, Any], response: dict[str, Any]) -> None:
    assert set(response) == {
        "statusCode",
        "headers",
        "multiValueHeaders",
        "body",
        "isBase64Encoded",
    }
    assert response["isBase64Encoded"] is False
    # A well-formed API Gateway request id becomes the response's request id.
    assert _header(response["headers"], "x-request-id") == event["requestContext"]["requestId"]


def _check_http(event: dict[str, Any], response: dict[str, Any]) -> None:
    assert {"statusCode", "headers", "body", "isBase64Encoded"} <= set(response)
    assert "multiValueHeaders" not in response
    assert response["isBase64Encoded"] is False
    assert _header(response["headers"], "x-request-id")


def _check_scf(event: dict[str, Any], response: dict[str, Any]) -> None:
    # The integrated response: exactly these four keys, or SCF answers 403 "Invalid scf response".
    assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}
    assert response["isBase64Encoded"] is False
    assert all(isinstance(value, str | list) for value in response["headers"].values())
    assert _header(response["headers"], "x-request-id") == event["requestContext"]["requestId"]


SHAPE_CHECKS = {"aws_rest": _check_rest, "aws_http": _check_http, "scf_apigw": _check_scf}


#: The daily backup jobs' outcome field, by function.
#: The retention job answers one entry per table it keeps short.
RETENTION_TABLES = {"provider_events", "idempotency_keys", "refresh_tokens"}
BACKUP_OUTCOMES = {"BackupFunction": "completed", "BackupVerifyFunction": "passed"}


def check_sample_response(
    *, logical_id: str, shape: str, event: dict[str, Any], response: Any
) -> None:
    """Assert `response` is what the function named `logical_id` must answer to a sample event
    of `shape` (see events/README.md)."""
    # a storage trigger returns normally (the sample names no upload: nothing to do)
    if shape in STORAGE_EVENT_SHAPES:
        assert response == {"results": ["ignored"]}
        return
    # a custom resource (the deploy's migrations) answers CloudFormation SUCCESS
    if shape in CUSTOM_RESOURCE_EVENT_SHAPES:
        assert response["Status"] == "SUCCESS", response.get("Reason")
        assert response["RequestId"] == event["RequestId"]
        return
    # a queue-triggered function reports no failed record
    if shape in QUEUE_EVENT_SHAPES:
        assert not (response or {}).get("batchItemFailures"), response
        return
    # a scheduled job reports its counts: the relay's, nothing failed to publish; the reaper's
    if shape in SCHEDULE_EVENT_SHAPES and logical_id in BACKUP_OUTCOMES:
        # the backup completes; the verify restores the latest backup and passes
        assert response["outcome"] == BACKUP_OUTCOMES[logical_id], response
        assert response["rows"] > 0 and response["backup_id"]
        return
    if shape in SCHEDULE_EVENT_SHAPES:
        assert (
            set(response)
            in (
                {"published", "failed", "backlog", "purged"},
                {"overdue", "timed_out", "redriven", "keys_purged", "events_purged"},
                {"periods", "rows"},  # the rollup job's
                {"rules_version", "changed", "sent", "failed"},  # the monitor's
                {"expired"},  # the plan expiry job's
            )
            or set(response) >= RETENTION_TABLES
        ), response
        assert response.get("failed", 0) == 0, response
        return
    # the sample callback is unsigned and token-less on purpose: it changes nothing, and is
    # answered as every callback is, an empty 204
    if logical_id == "CallbacksFunction":
        assert (response["statusCode"], response.get("body") or "") == (204, ""), response
        return
    # and an HTTP function succeeds (200, 201 for a creation, 202 for a registration whose
    # next step is mailed), in its platform's shape
    assert response["statusCode"] in (200, 201, 202), response["body"]
    SHAPE_CHECKS[shape](event, response)
    assert "code" not in json.loads(response["body"])  # not a problem, not a "down" health


TOKEN_PLACEHOLDERS = (OPERATOR_TOKEN_PLACEHOLDER, ACCESS_TOKEN_PLACEHOLDER)


def with_access_token(event: dict[str, Any]) -> dict[str, Any]:
    """The event with `<access-token>` replaced by a token of a newly registered user, or
    `<operator-access-token>` by one of a user then made an operator."""
    text = json.dumps(event)
    placeholder = next((p for p in TOKEN_PLACEHOLDERS if p in text), None)
    if placeholder is None:
        return event
    pair = sign_up(f"events-{uuid.uuid4().hex}@example.com", "Sample-Events-1")
    if placeholder == OPERATOR_TOKEN_PLACEHOLDER:
        with get_database().unit_of_work() as uow:
            uow.execute("UPDATE users SET role = 'operator' WHERE public_id = %s", (pair.user.id,))
            uow.commit()
    return json.loads(text.replace(placeholder, pair.access_token))  # type: ignore[no-any-return]


def with_response_url(event: dict[str, Any], url: str) -> dict[str, Any]:
    """The event with `<response-url>` (a custom-resource request's) replaced by `url`."""
    if event.get("ResponseURL") != RESPONSE_URL_PLACEHOLDER:
        return event
    return event | {"ResponseURL": url}
