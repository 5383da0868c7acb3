"""The store step fetches results only from the hosts a provider declares."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from retouch.pipeline.fetch import fetch_result
from retouch.providers.http import host_allowed, result_url_allowed
from retouch.providers.port import ProviderPermanent

HOSTS = frozenset({"results.vendor.test", ".cdn.vendor.test"})


@pytest.mark.parametrize(
    "host",
    ["results.vendor.test", "RESULTS.vendor.test", "b1.cdn.vendor.test", "x.y.cdn.vendor.test"],
)
def test_declared_hosts_and_subdomains_are_allowed(host: str) -> None:
    assert host_allowed(host, HOSTS)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "cdn.vendor.test",
        "evilcdn.vendor.test",
        "results.vendor.test.evil",
        "169.254.169.254",
    ],
)
def test_other_hosts_are_refused(host: str | None) -> None:
    assert not host_allowed(host, HOSTS)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://b1.cdn.vendor.test/r.png", True),
        ("http://results.vendor.test/r.png", True),
        ("ftp://results.vendor.test/r.png", False),
        ("file:///etc/passwd", False),
        ("https://evilcdn.vendor.test/r.png", False),
    ],
)
def test_a_result_url_is_http_on_the_declared_hosts(url: str, allowed: bool) -> None:
    assert result_url_allowed(url, HOSTS) is allowed


@dataclass
class _Vendor:
    result_hosts: frozenset[str] = HOSTS


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "https://evilcdn.vendor.test/a.png",
        "ftp://results.vendor.test/a.png",
    ],
)
def test_a_url_off_the_hosts_is_never_requested(url: str) -> None:
    with pytest.raises(ProviderPermanent, match="off the provider's hosts"):
        fetch_result(url, _Vendor())  # type: ignore[arg-type]
