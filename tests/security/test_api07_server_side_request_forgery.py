"""API7:2023 Server Side Request Forgery: with the deploy's network setting, an admin cannot
aim a provider (and so the server's outbound requests) at the metadata service, loopback in
any spelling, a private address or a non-HTTP scheme, nor hand it a secret that is not its
own. Nothing is stored. (Task inputs name uploads by id, never a URL: no route takes one.)"""

from __future__ import annotations

import secrets

import httpx
import pytest

from retouch.bootstrap.clients import reset_clients
from tests.integration.identity_support import audit_rows
from tests.security.conftest import account, problem

pytestmark = [pytest.mark.integration, pytest.mark.security]

TARGETS = [
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254",
    "http://127.0.0.1:6379",
    "https://0x7f000001",
    "https://2130706433",
    "https://localhost",
    "https://[::1]",
    "https://10.0.0.5",
    "file:///etc/passwd",
]


@pytest.fixture
def deployed_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """As deployed: no local network for providers (the suite's stack allows loopback for
    the vendor fakes), read by the served stack from the next request on."""
    monkeypatch.setenv("RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK", "false")
    reset_clients()


def _put(http: httpx.Client, admin: dict[str, str], key: str, **fields: object) -> httpx.Response:
    body = {
        "kind": "runninghub",
        "credential_ref": f"secretsmanager:retouch/providers/{key}",
        "concurrency_limit": 2,
        **fields,
    }
    return http.put(f"/v1/admin/providers/{key}", json=body, headers=admin)


@pytest.mark.parametrize("endpoint", TARGETS)
def test_a_provider_endpoint_inside_or_off_the_allowlist_is_422_and_not_stored(
    http: httpx.Client, deployed_network: None, endpoint: str
) -> None:
    _, admin = account("admin")
    key = f"p_{secrets.token_hex(4)}"

    response = _put(http, admin, key, endpoint=endpoint)

    body = problem(response, 422, "VALIDATION_FAILED")
    assert [error["field"] for error in body["errors"]] == ["body.endpoint"]
    listed = http.get("/v1/admin/providers", headers=admin).json()["items"]
    assert key not in {provider["key"] for provider in listed}
    assert audit_rows(key) == []


def test_result_hosts_on_loopback_or_the_metadata_service_are_refused(
    http: httpx.Client, deployed_network: None
) -> None:
    _, admin = account("admin")
    key = f"p_{secrets.token_hex(4)}"

    response = _put(http, admin, key, options={"result_hosts": ["169.254.169.254", "localhost"]})

    body = problem(response, 422, "VALIDATION_FAILED")
    assert {error["code"] for error in body["errors"]} == {"destination_not_allowed"}
    assert audit_rows(key) == []


@pytest.mark.parametrize(
    "reference",
    [
        "env:RETOUCH_SECRET_OTHER",
        "secretsmanager:retouch/providers/other",
        "env:RETOUCH_DB_PASSWORD",
    ],
)
def test_a_credential_ref_naming_another_secret_is_422(http: httpx.Client, reference: str) -> None:
    _, admin = account("admin")
    key = f"p_{secrets.token_hex(4)}"

    response = _put(http, admin, key, credential_ref=reference)

    body = problem(response, 422, "VALIDATION_FAILED")
    assert [error["field"] for error in body["errors"]] == ["body.credential_ref"]
    assert audit_rows(key) == []


def test_the_control_an_allowlisted_vendor_endpoint_is_accepted(
    http: httpx.Client, deployed_network: None
) -> None:
    _, admin = account("admin")
    key = f"p_{secrets.token_hex(4)}"

    assert _put(http, admin, key, endpoint="https://www.runninghub.cn").status_code == 200
