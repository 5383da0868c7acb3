"""CloudFormation's custom-resource protocol, for the work a deploy runs inside the stack (the
`Migrations` resource of template.yaml, served by the `migrate` function).

CloudFormation invokes the function with a request (`RequestType` Create, Update or Delete,
`ResponseURL`, `StackId`, `RequestId`, `LogicalResourceId`, `ResourceProperties`) and waits
until a JSON answer is PUT to the presigned `ResponseURL`: SUCCESS (with `Data`) lets the deploy
go on, FAILED (with a `Reason`, shown in the stack's events) rolls it back. An answer is sent
whatever happens, or the stack would wait for CloudFormation's timeout. The physical id stays
the same across updates, so an update never makes CloudFormation delete the old resource.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from retouch.core.errortracking import function_tags, report_exception
from retouch.core.logging import logger

#: CloudFormation refuses an answer over 4096 bytes; the reason is cut to fit well inside.
MAX_REASON_CHARS = 2000
RESPONSE_TIMEOUT_S = 30
REQUEST_TYPES = ("Create", "Update", "Delete")

Action = Callable[[Mapping[str, Any]], dict[str, Any]]


class CustomResourceError(ValueError):
    """The request is not one CloudFormation sends (no https/http response URL, no ids)."""


def response_url(event: Mapping[str, Any]) -> str:
    """The request's `ResponseURL`, refused unless it is http(s) with a host: the answer is a
    PUT, never a file or another scheme urllib would open."""
    url = event.get("ResponseURL")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise CustomResourceError("the request has no http(s) ResponseURL")
    return str(url)


def answer(
    event: Mapping[str, Any],
    *,
    status: str,
    physical_id: str,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """PUT the answer to the request's presigned URL (no content type: the URL is signed
    without one) and return it."""
    body = {
        "Status": status,
        "Reason": reason[:MAX_REASON_CHARS],
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": dict(data or {}),
    }
    payload = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - response_url allows only http(s)
        response_url(event),
        data=payload,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(payload))},
    )
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_S) as reply:  # noqa: S310
        logger.info("custom resource answered", extra={"status": status, "http": reply.status})
    return body


def _physical_id(event: Mapping[str, Any]) -> str:
    """The id CloudFormation already knows (Update, Delete), else one derived from the stack
    and the logical id, the same on every deploy of the stack."""
    known = event.get("PhysicalResourceId")
    if isinstance(known, str) and known:
        return known
    stack = str(event["StackId"]).rsplit(":", 1)[-1].split("/")[1:2] or ["stack"]
    return f"{stack[0]}-{event['LogicalResourceId']}"


def serve(event: Mapping[str, Any], context: Any, action: Action) -> dict[str, Any]:
    """Answer one CloudFormation request: Create and Update run `action` on the resource's
    properties (it must be idempotent: a rollback sends the previous properties again);
    Delete does nothing and succeeds (what the action did stays); any error answers FAILED
    with the error and the log stream as the reason, so the deploy stops and rolls back; the
    error is reported to error tracking (`core/errortracking.py`) as a job's would be."""
    response_url(event)  # refuse a request that could not be answered, before any work
    if not all(isinstance(event.get(key), str) for key in ("StackId", "RequestId")):
        raise CustomResourceError("the request has no StackId or RequestId")
    physical_id = _physical_id(event)
    request_type = event.get("RequestType")
    try:
        if request_type not in REQUEST_TYPES:
            raise CustomResourceError(f"unknown RequestType {request_type!r}")
        data: dict[str, Any] = {}
        if request_type != "Delete":
            data = action(event.get("ResourceProperties") or {})
    except Exception as error:  # noqa: BLE001 - every failure answers FAILED: the deploy rolls back
        logger.exception("custom resource failed", extra={"request_type": request_type})
        report_exception(error, tags=function_tags(context))
        stream = getattr(context, "log_stream_name", "")
        reason = f"{type(error).__name__}: {error} (log stream {stream})"
        return answer(event, status="FAILED", physical_id=physical_id, reason=reason)
    return answer(event, status="SUCCESS", physical_id=physical_id, data=data)
