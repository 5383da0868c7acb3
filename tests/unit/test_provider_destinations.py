"""The allowlist of provider destinations: endpoints and result hosts come from the code per
vendor kind plus the deploy's extra hosts; loopback, plain http and the simulator only where
the local network is allowed; the metadata service and other IP literals never."""

from __future__ import annotations

from typing import Any

import pytest

from retouch.catalog.errors import ConfigInvalid
from retouch.catalog.schemas import ProviderWrite
from retouch.catalog.validation import check_provider
from retouch.providers.destinations import DestinationPolicy, refused_destinations

PRODUCTION = DestinationPolicy()
LOCAL = DestinationPolicy(local_network=True)
WITH_CDN = DestinationPolicy(extra_hosts=frozenset({".rh-cdn.example.com"}))


def errors(policy: DestinationPolicy = PRODUCTION, **settings: Any) -> list[tuple[str, str]]:
    base = {"key": "runninghub", "kind": "runninghub", "concurrency_limit": 5}
    provider = ProviderWrite.model_validate({**base, **settings})
    with pytest.raises(ConfigInvalid) as caught:
        check_provider(provider, policy=policy)
    return [(error.field, error.type) for error in caught.value.errors]


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest",
        "https://169.254.169.254/latest",
        "http://127.0.0.1:6379",
        "http://0x7f000001:3307",
        "http://2130706433/",
        "http://localhost:8900",
        "https://[::1]/",
        "https://10.0.0.8/",
        "http://www.runninghub.cn",  # plain http, even to the vendor
        "https://www.runninghub.cn.evil.example/",
        "https://evil-runninghub.cn/",
    ],
)
def test_a_runninghub_endpoint_off_the_allowlist_is_refused(endpoint: str) -> None:
    # ([::1] is already no plain endpoint: refused as `endpoint`, the same field)
    assert [field for field, _ in errors(endpoint=endpoint)] == ["endpoint"]


@pytest.mark.parametrize("endpoint", ["https://www.runninghub.cn", "https://www.runninghub.ai/"])
def test_runninghubs_own_endpoints_are_accepted(endpoint: str) -> None:
    provider = ProviderWrite(
        key="runninghub", kind="runninghub", endpoint=endpoint, concurrency_limit=5
    )
    assert check_provider(provider, policy=PRODUCTION) is provider


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "169.254.169.254", ".internal", "example.com", "::1"]
)
def test_a_result_host_off_the_allowlist_is_refused(host: str) -> None:
    options = {"result_hosts": [".runninghub.cn", host]}

    assert ("options.result_hosts[1]", "destination_not_allowed") in errors(options=options)


def test_the_deploys_extra_hosts_widen_result_hosts_and_the_api_cannot() -> None:
    options = {"result_hosts": [".rh-cdn.example.com", "img.rh-cdn.example.com"]}
    provider = ProviderWrite(
        key="runninghub", kind="runninghub", concurrency_limit=5, options=options
    )

    assert check_provider(provider, policy=WITH_CDN) is provider
    assert errors(options=options) == [
        ("options.result_hosts[0]", "destination_not_allowed"),
        ("options.result_hosts[1]", "destination_not_allowed"),
    ]


def test_a_tencent_endpoint_must_be_a_tencentcloudapi_host_in_the_row_and_the_options() -> None:
    base = {"key": "tencent", "kind": "tencent", "concurrency_limit": 1}
    ok = ProviderWrite.model_validate(
        {**base, "endpoint": "https://aiart.tencentcloudapi.com", "options": {}}
    )
    check_provider(ok, policy=PRODUCTION)

    refused = refused_destinations(
        "tencent",
        "http://169.254.169.254",
        {"endpoint": "http://127.0.0.1:3307", "result_hosts": ["169.254.169.254"]},
        PRODUCTION,
    )

    assert refused == ["endpoint", "options.endpoint", "options.result_hosts[0]"]


def test_the_simulator_kind_needs_the_local_network() -> None:
    assert errors(kind="simulator", key="simulator") == [("kind", "destination_not_allowed")]
    assert refused_destinations("simulator", "http://127.0.0.1:8900", {}, LOCAL) == []


def test_the_local_network_allows_loopback_but_never_the_metadata_service() -> None:
    assert refused_destinations("runninghub", "http://127.0.0.1:8123", {}, LOCAL) == []
    assert refused_destinations("runninghub", "http://169.254.169.254/", {}, LOCAL) == ["endpoint"]
    assert refused_destinations(
        "runninghub", None, {"result_hosts": ["127.0.0.1", "169.254.169.254"]}, LOCAL
    ) == ["options.result_hosts[1]"]
