"""Pytest plugin: collect every JSON body the suite receives, scan them all at the end.

Registered by `tests/conftest.py`. Bodies are recorded where every request of the suite passes:

- `httpx.Client.send`: Starlette's `TestClient` (the functions' apps, the local gateway) and
  plain httpx clients against a served stack;
- `Mangum.__call__`: every Lambda/SCF handler `make_handler` builds, however a test reaches it
  (`load_function(...).handler`, `load_handler(spec)`, the gateway's workers); the proxy
  result's `body` is read when its headers say JSON;
- `record_printed_response`, called by the helper that runs `scripts/invoke` in a subprocess.

Answers a provider adapter receives from a vendor (requests sent with a `retouch-provider/`
User-Agent) are the vendor's words to us, not our responses: they are not recorded (the scan
still sees whatever our API later makes of them).

Both wrappers are instrumentation, installed with pytest's MonkeyPatch for the whole session:
the real response is returned unchanged. At the session's end `tests.leak_scan.scan` reads
every body; any finding is printed with its test and fails the run, and a run in which the app
served requests (its access log) but no response was recorded fails too: the instrumentation
broke.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from mangum import Mangum

from retouch.core.logging import logger
from retouch.core.settings import Settings, get_settings
from tests.leak_scan import Finding, scan

SHOWN_VALUE_CHARS = 80
_PATCH = pytest.StashKey[pytest.MonkeyPatch]()
# The User-Agent prefix of provider adapters' requests to their vendors.
PROVIDER_AGENT_PREFIX = "retouch-provider/"
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")
# Path segments that differ per request (public ids, numbers): one route, many paths.
_VARYING_SEGMENT = re.compile(r"^([a-z]{1,8}_[A-Za-z0-9_-]+|\d+)$")


@dataclass(frozen=True)
class Capture:
    """One JSON body as the suite received it."""

    test: str
    method: str
    path: str
    body: Any
    allowed_hosts: frozenset[str]


class _AccessLogCounter(logging.Handler):
    """Counts the app's access log lines: requests served in this process."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "request":
            self.count += 1


@dataclass
class Recorder:
    """The bodies of this session and the test that is running."""

    captures: list[Capture] = field(default_factory=list)
    observed: int = 0  # responses of any type the instrumentation saw
    current_test: str = "(outside any test)"
    served: _AccessLogCounter = field(default_factory=_AccessLogCounter)
    findings: list[tuple[Capture, Finding]] = field(default_factory=list)

    def record(
        self, *, method: str, path: str, content_type: str, content: bytes, hosts: set[str]
    ) -> None:
        self.observed += 1
        if not _JSON_TYPE.match(content_type.split(";")[0].strip().lower()):
            return
        try:
            body = json.loads(content)
        except ValueError:
            return  # not JSON whatever its header says: no rule of the scan applies
        self.captures.append(
            Capture(self.current_test, method, path, body, frozenset(hosts | _storage_hosts()))
        )

    def record_proxy_result(self, event: Mapping[str, Any], result: Any) -> None:
        """A Lambda/SCF proxy result answered to `event`."""
        if not isinstance(result, Mapping) or not isinstance(result.get("body"), str):
            return
        headers = {str(name).lower(): value for name, value in _headers(result).items()}
        body: str = result["body"]
        content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        request_headers = {str(name).lower(): value for name, value in _headers(event).items()}
        host = str(request_headers.get("host", "")).split(":")[0]
        self.record(
            method=str(_method_of(event)),
            path=str(event.get("rawPath") or event.get("path") or "?"),
            content_type=str(headers.get("content-type", "")),
            content=content,
            hosts={host} if host else set(),
        )

    def scan_all(self) -> None:
        self.findings = [
            (capture, finding)
            for capture in self.captures
            for finding in scan(
                method=capture.method,
                path=capture.path,
                body=capture.body,
                allowed_hosts=capture.allowed_hosts,
            )
        ]

    @property
    def instrumentation_broken(self) -> bool:
        """The app served requests in this process, but no response reached the recorder."""
        return self.served.count > 0 and self.observed == 0

    def routes(self) -> set[str]:
        return {f"{capture.method} {route_of(capture.path)}" for capture in self.captures}


RECORDER = Recorder()


def record_printed_response(event_file: str | Path, stdout: str) -> None:
    """The response `scripts/invoke` printed for the event in `event_file`."""
    try:
        result = json.loads(stdout)
    except ValueError:
        return
    RECORDER.record_proxy_result(json.loads(Path(event_file).read_text()), result)


def route_of(path: str) -> str:
    """`/v1/admin/users/usr_abc/credits` → `/v1/admin/users/{id}/credits`."""
    return "/".join("{id}" if _VARYING_SEGMENT.match(part) else part for part in path.split("/"))


def _storage_hosts() -> set[str]:
    """The host of the storage URLs the app builds: from the settings it is using, else the
    default. Settings are only read if the app parsed them already, so recording changes
    nothing."""
    if get_settings.cache_info().currsize:
        base_url = get_settings().storage_local_base_url
    else:
        base_url = str(Settings.model_fields["storage_local_base_url"].default)
    host = urlsplit(base_url).hostname
    return {host} if host else set()


def _headers(message: Mapping[str, Any]) -> dict[str, Any]:
    multi = message.get("multiValueHeaders") or {}
    single = message.get("headers") or {}
    return {**{name: values[-1] for name, values in multi.items() if values}, **single}


def _method_of(event: Mapping[str, Any]) -> Any:
    http = (event.get("requestContext") or {}).get("http") or {}
    return event.get("httpMethod") or http.get("method", "?")


def _describe(capture: Capture, finding: Finding) -> str:
    value = finding.value
    if len(value) > SHOWN_VALUE_CHARS:
        value = value[:SHOWN_VALUE_CHARS] + "…"
    return (
        f"{capture.test}: {capture.method} {capture.path}: {finding.rule} at "
        f"{finding.json_path}: {value!r}"
    )


@pytest.hookimpl
def pytest_configure(config: pytest.Config) -> None:
    patch = pytest.MonkeyPatch()
    config.stash[_PATCH] = patch
    send = httpx.Client.send
    call = Mangum.__call__

    def recording_send(
        client: httpx.Client, request: httpx.Request, **options: Any
    ) -> httpx.Response:
        response = send(client, request, **options)
        from_vendor = request.headers.get("user-agent", "").startswith(PROVIDER_AGENT_PREFIX)
        # A streamed body is the test's to read.
        if not options.get("stream", False) and not from_vendor:
            RECORDER.record(
                method=request.method,
                path=request.url.path,
                content_type=response.headers.get("content-type", ""),
                content=response.content,
                hosts={request.url.host},
            )
        return response

    def recording_call(adapter: Mangum, event: Any, context: Any) -> dict[str, Any]:
        result = call(adapter, event, context)
        if isinstance(event, Mapping):
            RECORDER.record_proxy_result(event, result)
        return result

    patch.setattr(httpx.Client, "send", recording_send)
    patch.setattr(Mangum, "__call__", recording_call)
    logging.getLogger(logger.name).addHandler(RECORDER.served)


@pytest.hookimpl
def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger(logger.name).removeHandler(RECORDER.served)
    config.stash[_PATCH].undo()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    RECORDER.current_test = item.nodeid
    try:
        return (yield)
    finally:
        RECORDER.current_test = "(outside any test)"


@pytest.hookimpl
def pytest_sessionfinish(session: pytest.Session) -> None:
    RECORDER.scan_all()
    if (RECORDER.findings or RECORDER.instrumentation_broken) and session.exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl
def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RECORDER.findings:
        terminalreporter.section("leak scan", red=True)
        for capture, finding in RECORDER.findings:
            terminalreporter.write_line(_describe(capture, finding))
    if RECORDER.instrumentation_broken:
        terminalreporter.write_line(
            f"leak scan: the app served {RECORDER.served.count} requests but no response was "
            "recorded: the instrumentation is broken",
            red=True,
        )
    terminalreporter.write_line(
        f"leak scan: {len(RECORDER.captures)} JSON bodies from {len(RECORDER.routes())} routes, "
        f"{len(RECORDER.findings)} findings"
    )
