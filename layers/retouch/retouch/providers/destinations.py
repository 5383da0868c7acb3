"""Where a provider may send its requests and fetch its results from: an allowlist the admin
API cannot widen.

Each vendor kind's own hosts are here, in code; the deploy may add hosts for every kind
(`RETOUCH_PROVIDER_EXTRA_HOSTS`, e.g. the result CDN of a RunningHub account). Plain http,
loopback hosts and the `simulator` kind are allowed only where
`RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK` says so (the local stack, the tests); an IP literal
outside loopback, such as the metadata service's 169.254.169.254, never is. The catalog
checks a provider config against this before storing it, and the factories again before
building an adapter, so a row written before the rule reaches nothing it names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from retouch.core.settings import get_settings
from retouch.providers.http import host_allowed

_RUNNINGHUB = frozenset({"www.runninghub.cn", "www.runninghub.ai"})
_TENCENT_API = frozenset({".tencentcloudapi.com"})

#: Per kind: the hosts its endpoint may name (https only) and the hosts its results may come
#: from. `local` reaches no network; `simulator` has no hosts of its own (local network only).
ENDPOINT_HOSTS: dict[str, frozenset[str]] = {
    "runninghub": _RUNNINGHUB,
    "tencent": _TENCENT_API,
    "hunyuan": _TENCENT_API,
}
RESULT_HOSTS: dict[str, frozenset[str]] = {
    # RunningHub's API hosts and anything under its domains; an account's result CDN on
    # another domain goes in RETOUCH_PROVIDER_EXTRA_HOSTS.
    "runninghub": _RUNNINGHUB | {".runninghub.cn", ".runninghub.ai"},
    # Hunyuan's results are COS objects (`*.cos.<region>.myqcloud.com`).
    "tencent": frozenset({".myqcloud.com"}),
    "hunyuan": frozenset({".myqcloud.com"}),
}
_LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """What the deploy adds to the code's allowlist."""

    extra_hosts: frozenset[str] = frozenset()
    local_network: bool = False

    @classmethod
    def from_settings(cls) -> DestinationPolicy:
        settings = get_settings()
        hosts = {h.strip().lower() for h in settings.provider_extra_hosts.split(",") if h.strip()}
        return cls(frozenset(hosts), settings.providers_allow_local_network)


def kind_allowed(kind: str, policy: DestinationPolicy) -> bool:
    """False for the `simulator` kind outside the local network."""
    return kind != "simulator" or policy.local_network


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def entry_allowed(entry: str, allowed: frozenset[str], policy: DestinationPolicy) -> bool:
    """True when host entry `entry` (a name, or `.domain`) lies at or under `allowed` or the
    deploy's extra hosts, or is loopback where the local network is allowed."""
    entry = entry.lower()
    if policy.local_network and is_loopback(entry):
        return True
    if _is_ip_literal(entry):
        return False
    hosts = allowed | policy.extra_hosts
    if entry.startswith("."):
        return entry in hosts or any(h.startswith(".") and entry.endswith(h) for h in hosts)
    return host_allowed(entry, hosts)


def endpoint_allowed(kind: str, url: str, policy: DestinationPolicy) -> bool:
    """True for an https URL on the kind's (or the deploy's) hosts; http and loopback only
    where the local network is allowed."""
    parts = urlsplit(url)
    try:
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if not host:
        return False
    if policy.local_network and parts.scheme in ("http", "https") and is_loopback(host):
        return True
    if parts.scheme != "https" and not (policy.local_network and parts.scheme == "http"):
        return False
    return entry_allowed(host, ENDPOINT_HOSTS.get(kind, frozenset()), policy)


def refused_destinations(
    kind: str, endpoint: str | None, options: Mapping[str, Any], policy: DestinationPolicy
) -> list[str]:
    """The fields of a provider config that name a destination outside the allowlist: `kind`,
    `endpoint`, `options.endpoint`, `options.result_hosts[i]`."""
    refused: list[str] = []
    if not kind_allowed(kind, policy):
        refused.append("kind")
    if endpoint is not None and not endpoint_allowed(kind, endpoint, policy):
        refused.append("endpoint")
    option_endpoint = options.get("endpoint")
    if isinstance(option_endpoint, str) and option_endpoint:
        refused += [] if endpoint_allowed(kind, option_endpoint, policy) else ["options.endpoint"]
    hosts = options.get("result_hosts")
    if isinstance(hosts, list | tuple):
        allowed = RESULT_HOSTS.get(kind, frozenset())
        for index, entry in enumerate(hosts):
            if isinstance(entry, str) and not entry_allowed(entry.strip(), allowed, policy):
                refused.append(f"options.result_hosts[{index}]")
    return refused
