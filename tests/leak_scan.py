"""What no response body may carry (DESIGN §3): the rules of the suite-wide leak scan.

`scan(method=, path=, body=)` walks one parsed JSON body and returns a `Finding` per value or key
that breaks a rule. `tests/leak_scan_plugin.py` feeds it every JSON body the test suite receives.

Rules (every list the scan uses is a constant of this module):

- `password-hash`: a string starting with a password-hash prefix (`PASSWORD_HASH_PREFIXES`);
  `password-field`: a key of `PASSWORD_KEYS`.
- `internal-id`: a key `id` or `..._id` whose value is a number. Public ids are prefixed
  strings (`usr_…`, `upl_…`); internal numeric ids never leave the server.
- `vendor-name`: a vendor's name (`VENDOR_NAMES`) in any string or key, case-insensitive.
- `vendor-url`: a URL whose host is neither ours (`OWN_HOSTS`, plus the hosts the caller
  passes: the server that answered, the configured storage) nor a standard's identifier
  (`STANDARD_HOSTS`); and a vendor's host (`VENDOR_HOSTS`) anywhere, with a scheme or not.
- `vendor-task-id`: a key that names a vendor's handle on a job (`VENDOR_TASK_KEYS`).

Operator and admin routes (`/v1/admin/...`) show provider keys and their settings by design, so
they are exempt from the vendor rules (`ADMIN_EXEMPT_RULES`), never from the first two. The
OpenAPI document (`SCHEMA_DOCUMENT_PATHS`) is exempt from the same rules and from
`password-field`: it names request fields (`password`) and the admin schemas (provider kinds),
and carries no data. The cloud's API gateways route no such path; the local gateway serves it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from retouch.catalog.schemas import SCHEMA_DIALECT
from retouch.http.problems import PROBLEM_TYPE_BASE

PASSWORD_HASH = "password-hash"
PASSWORD_FIELD = "password-field"
INTERNAL_ID = "internal-id"
VENDOR_NAME = "vendor-name"
VENDOR_URL = "vendor-url"
VENDOR_TASK_ID = "vendor-task-id"

#: Argon2 (ours), bcrypt, PBKDF2 and scrypt in their usual modular-crypt forms.
PASSWORD_HASH_PREFIXES = ("$argon2", "$2a$", "$2b$", "$2y$", "$pbkdf2", "$scrypt")
PASSWORD_KEYS = frozenset({"password", "password_hash"})

#: The vendors of DESIGN §6. `bda.` (Tencent's body analysis API) must start a word, so that
#: `lambda.` does not count as a vendor name.
VENDOR_NAMES = re.compile(
    r"runninghub|hunyuan|tencentcloud|aiart|facefusion|(?<![a-z0-9])bda\.", re.IGNORECASE
)
VENDOR_HOSTS = ("runninghub.cn", "runninghub.ai", "tencentcloudapi.com")
VENDOR_TASK_KEYS = frozenset(
    {"vendor_task_id", "provider_task_id", "provider_job_id", "job_id", "provider"}
)

#: Hosts that are ours wherever the suite runs: the local machine, and the host of the problem
#: `type` URIs (an identifier, never fetched).
OWN_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", urlsplit(PROBLEM_TYPE_BASE).netloc})
#: Identifiers of standards that responses quote: the JSON Schema dialect of form schemas.
STANDARD_HOSTS = frozenset({urlsplit(SCHEMA_DIALECT).netloc})

ADMIN_PREFIX = "/v1/admin"
ADMIN_EXEMPT_RULES = frozenset({VENDOR_NAME, VENDOR_URL, VENDOR_TASK_ID})
SCHEMA_DOCUMENT_PATHS = frozenset({"/openapi.json"})
SCHEMA_DOCUMENT_EXEMPT_RULES = ADMIN_EXEMPT_RULES | {PASSWORD_FIELD}

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]*")


@dataclass(frozen=True)
class Finding:
    """One key or value of a body that breaks `rule`, at `json_path` (`$.items[0].id`)."""

    rule: str
    json_path: str
    value: str


def exempt_rules(path: str) -> frozenset[str]:
    """The rules that do not apply to the response of `path`."""
    if path in SCHEMA_DOCUMENT_PATHS:
        return SCHEMA_DOCUMENT_EXEMPT_RULES
    if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
        return ADMIN_EXEMPT_RULES
    return frozenset()


def scan(*, method: str, path: str, body: Any, allowed_hosts: Iterable[str] = ()) -> list[Finding]:
    """Every finding in one JSON body answered to `method path`. `allowed_hosts` are hosts that
    are ours in this exchange besides `OWN_HOSTS` (the server that answered, our storage).
    `method` completes the request's description; no rule depends on it today."""
    hosts = {host.lower() for host in allowed_hosts} | OWN_HOSTS | STANDARD_HOSTS
    exempt = exempt_rules(path)
    return [finding for finding in _walk(body, "$", hosts) if finding.rule not in exempt]


def _walk(value: Any, json_path: str, hosts: set[str]) -> Iterator[Finding]:
    if isinstance(value, dict):
        for key, item in value.items():
            item_path = f"{json_path}.{key}"
            yield from _key_findings(str(key), item, item_path)
            yield from _walk(item, item_path, hosts)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{json_path}[{index}]", hosts)
    elif isinstance(value, str):
        yield from _string_findings(value, json_path, hosts)


def _key_findings(key: str, value: Any, json_path: str) -> Iterator[Finding]:
    lowered = key.lower()
    if lowered in PASSWORD_KEYS:
        yield Finding(PASSWORD_FIELD, json_path, key)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if is_number and (lowered == "id" or lowered.endswith("_id")):
        yield Finding(INTERNAL_ID, json_path, str(value))
    if VENDOR_NAMES.search(key):
        yield Finding(VENDOR_NAME, json_path, key)
    if lowered in VENDOR_TASK_KEYS:
        yield Finding(VENDOR_TASK_ID, json_path, key)


def _string_findings(text: str, json_path: str, hosts: set[str]) -> Iterator[Finding]:
    if text.startswith(PASSWORD_HASH_PREFIXES):
        yield Finding(PASSWORD_HASH, json_path, text)
    if VENDOR_NAMES.search(text):
        yield Finding(VENDOR_NAME, json_path, text)
    lowered = text.lower()
    foreign_url = any(_url_host(url) not in hosts for url in _URL.findall(text))
    if foreign_url or any(vendor_host in lowered for vendor_host in VENDOR_HOSTS):
        yield Finding(VENDOR_URL, json_path, text)


def _url_host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:  # e.g. an unbalanced `[` in the netloc: not a host we know
        return None
    return host.lower() if host else None
