"""Unexpected errors to Sentry (`sentry-sdk`), scrubbed, tagged with the request id.

Off unless RETOUCH_SENTRY_DSN or RETOUCH_SENTRY_DSN_SECRET names a DSN. The SDK is imported
and initialised at the first error to report, never at import and never on a request that
does not fail: with the DSN unset no function loads it at all, and with it set a cold start
pays nothing until something breaks. On Lambda the SDK's `AwsLambdaIntegration` is enabled;
on SCF and the local stack the generic client. Each report is flushed before the request
ends (bounded by `FLUSH_TIMEOUT_S`): an SCF instance, or a Lambda one, is frozen as soon as
its handler returns, and a report left in the SDK's queue would go with it.

The functions without HTTP (steps, jobs, triggers) wrap their handler in `reporting_errors`:
an exception that escapes it is reported, tagged with the function's name and the platform's
request id, and raised again, so the platform's retries and failure destinations see it as
before. A step batch's record handler is wrapped in `reporting_record_errors`: each record
that fails (given back for redelivery) is reported once, tagged with its message id and
task, and still fails alone. Failures a handler deals with itself (a message that is not
ours, dropped; a job's per-table error it logs and moves past) are not reports.

What leaves: `before_send` (`scrub_event`) passes the whole event through the log redaction
(`core/redaction.py`: secrets, tokens, passwords, Authorization headers, emails) and replaces
every URL (presigned image URLs carry the picture's key and a signature) by `<url>`; the
SDK sends no request data, no local variables and no default PII.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import retouch
from retouch.core.logging import SERVICE, invocation_keys, logger
from retouch.core.redaction import redact
from retouch.core.request_context import current_request_ids

#: How long the report of one error may hold its request.
FLUSH_TIMEOUT_S = 2.0
_URL = re.compile(r"\b(?:https?|s3|cos)://[^\s\"'<>]+")
_state: dict[str, bool] = {}
F = TypeVar("F", bound=Callable[..., Any])


def scrub_event(event: Any, _hint: Any = None) -> Any:
    """The event with secrets masked (as in logs) and every URL replaced by `<url>`."""
    return _without_urls(redact(event))


def _without_urls(value: Any) -> Any:
    if isinstance(value, str):
        return _URL.sub("<url>", value) if "://" in value else value
    if isinstance(value, dict):
        return {key: _without_urls(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_urls(item) for item in value]
    return value


def _dsn() -> str:
    from retouch.core.settings import get_settings

    settings = get_settings()
    dsn = settings.sentry_dsn.get_secret_value()
    if not dsn and settings.sentry_dsn_secret:
        from retouch.core.secrets import get_secret

        dsn = get_secret(settings.sentry_dsn_secret)
    return dsn


def _start(dsn: str) -> None:
    import sentry_sdk

    from retouch.core.settings import get_settings

    settings = get_settings()
    integrations: list[Any] = []
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration

        integrations.append(AwsLambdaIntegration(timeout_warning=False))
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.sentry_environment or settings.stage,
        release=settings.sentry_release or f"retouch@{retouch.__version__}",
        sample_rate=settings.sentry_sample_rate,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        include_local_variables=False,
        max_request_body_size="never",
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=integrations,
        before_send=scrub_event,
    )
    sentry_sdk.set_tag("service", SERVICE)


def error_tracking_on() -> bool:
    """Whether errors are reported; the first call reads the settings and, with a DSN,
    starts the SDK. A DSN that cannot be read (settings, secret store) skips this report,
    logged, and is asked for again at the next error; it never fails the response."""
    if "on" not in _state:
        try:
            dsn = _dsn()
        except Exception as exc:  # noqa: BLE001 - error tracking must never break a response
            logger.warning(
                "error tracking skipped: DSN unreadable", extra={"error": type(exc).__name__}
            )
            return False  # asked again at the next error
        if dsn:
            _start(dsn)
        _state["on"] = bool(dsn)
    return _state["on"]


def report_exception(
    exc: BaseException, *, tags: Mapping[str, str | None] | None = None, flush: bool = True
) -> None:
    """Send `exc` (with its stack trace) tagged with the current request's id and `tags`, if
    on; `flush=False` leaves it queued for `flush_reports`."""
    if not error_tracking_on():
        return
    import sentry_sdk

    ids = current_request_ids()
    with sentry_sdk.new_scope() as scope:
        if ids is not None:
            scope.set_tag("request_id", ids.server)
        for name, value in (tags or {}).items():
            if value:
                scope.set_tag(name, value)
        scope.capture_exception(exc)
    if flush:
        sentry_sdk.flush(timeout=FLUSH_TIMEOUT_S)


def flush_reports() -> None:
    """Wait (at most FLUSH_TIMEOUT_S) until the queued reports are sent; nothing when off."""
    if _state.get("on"):
        import sentry_sdk

        sentry_sdk.flush(timeout=FLUSH_TIMEOUT_S)


def reporting_errors(handler: F) -> F:
    """Wrap a function handler `(event, context)`: an exception it raises is reported (tags
    `function`, `function_request_id`), then raised again. Without a DSN this costs one
    dictionary lookup per failed invocation and nothing per successful one."""

    @functools.wraps(handler)
    def wrapped(event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(event, context, *args, **kwargs)
        except Exception as exc:
            if not _reported(exc):
                report_exception(exc, tags=function_tags(context))
                setattr(exc, _REPORTED, True)  # an outer wrapper does not send it again
            raise

    return wrapped  # type: ignore[return-value]


def reporting_record_errors(
    record_handler: Callable[[Any], Any], context: Any = None
) -> Callable[[Any], Any]:
    """Wrap a batch's record handler (Powertools `BatchProcessor`): an exception it raises is
    reported for that record alone (tags `message_id`, and `task_id` / `step` when the body
    names them, beside the function's), marked as reported and raised again, so the batch's
    partial-failure response is what it was. The reports are queued: the caller sends them
    with `flush_reports` at the batch's end, so a batch waits for the ingest once, not once
    per record. When every record failed, Powertools raises `BatchProcessingError` over them:
    `reporting_errors` sends nothing more for it."""

    def wrapped(record: Any) -> Any:
        try:
            return record_handler(record)
        except Exception as exc:
            tags = {**function_tags(context), **_record_tags(record)}
            report_exception(exc, tags=tags, flush=False)
            setattr(exc, _REPORTED, True)
            raise

    return wrapped


_REPORTED = "_retouch_reported"


def _reported(exc: BaseException) -> bool:
    """Whether `exc`, or every record failure it gathers, was reported already."""
    children = getattr(exc, "child_exceptions", None) or []
    if children:
        return all(getattr(info[1], _REPORTED, False) for info in children)
    return bool(getattr(exc, _REPORTED, False))


def function_tags(context: Any) -> dict[str, str | None]:
    """The function's name and the platform's request id of the invocation."""
    keys = invocation_keys(context)
    return {"function": keys["function_name"], "function_request_id": keys["function_request_id"]}


def _record_tags(record: Any) -> dict[str, str | None]:
    """A queue record's message id and the task and step its body names (ids only: a body
    holds no personal data, but nothing else of it is sent)."""
    tags: dict[str, str | None] = {"message_id": getattr(record, "message_id", None)}
    try:
        body = record.json_body
    except Exception:  # noqa: BLE001 - an unreadable body still gets its message id reported
        return tags
    if isinstance(body, dict):
        for name in ("task_id", "step"):
            if isinstance(body.get(name), str | int):
                tags[name] = str(body[name])[:64]
    return tags


def reset_error_tracking() -> None:
    """Forget the decision (settings reloads, tests); a started client is closed."""
    if _state.pop("on", False):
        import sentry_sdk

        sentry_sdk.get_client().close(timeout=FLUSH_TIMEOUT_S)
        sentry_sdk.init()  # no DSN: a client that sends nothing
