"""A loopback stand-in for SCF's `Invoke` API (scf.tencentcloudapi.com, 2018-04-16), the only
call the scf queue backend makes. It checks each request's TC3-HMAC-SHA256 signature
(`tencent_sts_fake.tc3_signature_error`) and the fields SCF documents for Invoke: an existing
function, `InvocationType` Event, a JSON `ClientContext` of at most 128 KB (the async limit),
then records the call and answers in the documented response shape. `deliver` hands a
recorded invocation's event to a function's SCF entry point, as SCF would."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.cos_fake import SECRET_ID, SECRET_KEY, serving
from tests.integration.tencent_sts_fake import tc3_signature_error, write_response

__all__ = ["SECRET_ID", "SECRET_KEY", "FakeScf", "Invocation", "running_fake_scf"]

#: SCF's limit on an asynchronous invocation's event (Invoke, ClientContext).
ASYNC_EVENT_LIMIT = 128 * 1024


@dataclass
class Invocation:
    """One accepted Invoke: its parameters, session token and region; `event` is the parsed
    ClientContext, what the function receives."""

    parameters: dict[str, Any]
    token: str | None
    region: str

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.parameters["ClientContext"]))


@dataclass
class FakeScf:
    """The functions that exist and every invocation accepted (`refused`: the others)."""

    functions: set[str]
    invocations: list[Invocation] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    url: str = ""

    def deliver(self, entry_point: Callable[[dict[str, Any], Any], Any]) -> list[Any]:
        """Hand every invocation recorded so far to `entry_point` (then forget them)."""
        pending, self.invocations = self.invocations, []
        return [entry_point(invocation.event, None) for invocation in pending]


def _field_error(parameters: dict[str, Any], functions: set[str]) -> tuple[str, str] | None:
    if parameters.get("InvocationType") != "Event":
        return "InvalidParameterValue.InvocationType", "the queue invokes asynchronously"
    text = parameters.get("ClientContext")
    if not isinstance(text, str) or len(text.encode()) > ASYNC_EVENT_LIMIT:
        return "InvalidParameterValue.ClientContext", "ClientContext is JSON of at most 128 KB"
    try:
        json.loads(text)
    except ValueError:
        return "InvalidParameterValue.ClientContext", "ClientContext is not JSON"
    if parameters.get("FunctionName") not in functions:
        return "ResourceNotFound.Function", f"no function {parameters.get('FunctionName')!r}"
    return None


class _ScfHandler(BaseHTTPRequestHandler):
    server: _ScfServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake = self.server.fake
        error = tc3_signature_error(headers, body)
        if error is not None:
            response: dict[str, Any] = {"Error": {"Code": "AuthFailure", "Message": error}}
        elif (headers.get("x-tc-action"), headers.get("x-tc-version")) != ("Invoke", "2018-04-16"):
            response = {"Error": {"Code": "InvalidAction", "Message": headers.get("x-tc-action")}}
        else:
            parameters = json.loads(body)
            problem = _field_error(parameters, fake.functions)
            if problem is not None:
                fake.refused.append(problem[0])
                response = {"Error": {"Code": problem[0], "Message": problem[1]}}
            else:
                invocation = Invocation(
                    parameters, headers.get("x-tc-token"), headers.get("x-tc-region", "")
                )
                fake.invocations.append(invocation)
                response = {"Result": {"FunctionRequestId": secrets.token_hex(16)}}
        write_response(self, response)


class _ScfServer(ThreadingHTTPServer):
    fake: FakeScf


@contextmanager
def running_fake_scf(functions: set[str]) -> Iterator[FakeScf]:
    """A fake SCF API on a free loopback port knowing `functions`; `url` is its endpoint."""
    server = _ScfServer(("127.0.0.1", 0), _ScfHandler)
    server.fake = FakeScf(functions=set(functions))
    with serving(server) as url:
        server.fake.url = url
        yield server.fake
