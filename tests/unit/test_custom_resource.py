"""A custom-resource request that could not be answered on an http(s) URL, or names no stack
or request, is refused before any work (retouch.bootstrap.custom_resource); no socket opens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from retouch.bootstrap.custom_resource import CustomResourceError, serve

VALID = {
    "RequestType": "Create",
    "ResponseURL": "https://cloudformation-custom-resource-response.s3.amazonaws.com/x",
    "StackId": "arn:aws:cloudformation:eu-west-1:1:stack/retouch-dev/guid",
    "RequestId": "r-1",
    "LogicalResourceId": "Migrations",
    "ResourceProperties": {},
}


@pytest.mark.parametrize(
    "change",
    [
        {"ResponseURL": "file:///etc/passwd"},
        {"ResponseURL": "ftp://example.com/answer"},
        {"ResponseURL": "https:///no-host"},
        {"ResponseURL": None},
        {"ResponseURL": ["https://example.com"]},
        {"StackId": None},
        {"RequestId": 7},
    ],
    ids=["file", "ftp", "no-host", "none", "list", "no-stack", "request-id-not-str"],
)
def test_a_request_that_cannot_be_answered_is_refused_before_any_work(
    change: dict[str, Any],
) -> None:
    runs: list[Mapping[str, Any]] = []

    def action(properties: Mapping[str, Any]) -> dict[str, Any]:
        runs.append(properties)
        return {}

    with pytest.raises(CustomResourceError):
        serve(VALID | change, None, action)

    assert runs == []
