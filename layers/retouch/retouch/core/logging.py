"""The process-wide structured logger (Powertools); metrics go through `core/metrics.py`.

The logger is cheap to build and holds no connection, so it is a module constant, as in
every Powertools example; the service name comes from Powertools' own variables.

Every line passes `RedactingFormatter`: the entry Powertools built (message, extra keys,
appended keys, exception text) is redacted (`core/redaction.py`) before it is serialised, so
no password, token, secret or full email address reaches a log, whoever wrote the line.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from retouch.core.redaction import redact

SERVICE = "retouch"


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with secrets masked in the whole entry."""

    def serialize(self, log: Any) -> str:
        return super().serialize(redact(log))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter(use_rfc3339=True, utc=True))


def invocation_keys(context: Any) -> dict[str, Any]:
    """Log keys naming the function and the platform's request id, from either context.

    Lambda passes an object (`function_name`, `aws_request_id`); SCF passes a dict
    (`function_name`, `request_id`). Powertools' `inject_lambda_context` reads only the former.
    """
    if isinstance(context, dict):
        name, request_id = context.get("function_name"), context.get("request_id")
    else:
        name = getattr(context, "function_name", None)
        request_id = getattr(context, "aws_request_id", None)
    return {"function_name": name, "function_request_id": request_id}
