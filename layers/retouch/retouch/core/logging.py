"""The process-wide structured logger (Powertools); metrics go through `core/metrics.py`.

The logger is cheap to build and holds no connection, so it is a module constant, as in
every Powertools example; the service name comes from Powertools' own variables.

Every line passes `RedactingFormatter`: the entry Powertools built (message, extra keys,
appended keys, exception text) is redacted (`core/redaction.py`) before it is serialised, so
no password, token, secret or full email address reaches a log, whoever wrote the line, and
carries a `category` (`access`, `security`, `business`, `vendor`, `system`): the one given as
`extra={"category": ...}`, else the one of the module that wrote it (`module_category`).
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from retouch.core.redaction import redact

SERVICE = "retouch"

CATEGORIES = frozenset({"access", "security", "business", "vendor", "system"})
#: Module (or package) of the layer → category; the longest matching prefix wins, anything
#: else (the database, Redis, queues, metrics, storage, the functions' entry files) is system.
_MODULE_CATEGORIES = {
    "http.middleware": "access",
    "auth": "security",
    "audit": "security",
    "core.security": "security",
    "core.identity": "security",
    "core.lockout": "security",
    "core.permissions": "security",
    "core.ratelimit": "security",
    "core.secrets": "security",
    "http.rate_limits": "security",
    "providers": "vendor",
    "pipeline.callbacks": "vendor",
    "pipeline.fetch": "vendor",
    "notify.robots": "vendor",
    "notify.mail": "vendor",
    "alerts": "business",
    "catalog": "business",
    "idempotency": "business",
    "images": "business",
    "pipeline": "business",
    "quota": "business",
    "tasks": "business",
    "uploads": "business",
    "users": "business",
}


@lru_cache(maxsize=512)
def module_category(pathname: str) -> str:
    """The category of the lines written from the file `pathname`."""
    head, found, tail = pathname.replace("\\", "/").rpartition("/retouch/")
    if not found or not head:
        return "system"
    module = tail.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    while module:
        category = _MODULE_CATEGORIES.get(module)
        if category:
            return category
        module = module.rpartition(".")[0]
    return "system"


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with secrets masked in the whole entry and a category."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "category", None) not in CATEGORIES:
            record.category = module_category(record.pathname)
        return super().format(record)

    def serialize(self, log: Any) -> str:
        return super().serialize(redact(log))


#: Where a JSON document can start (RFC 8259: an object, array, string, number or literal).
_JSON_STARTS = frozenset('{["-0123456789tfn')


def json_message(message: Any) -> Any:
    """Powertools' reading of a log message: a JSON document becomes its value, anything else
    stays as it is; without raising and catching a decode error on every plain-text line."""
    if isinstance(message, str) and message.lstrip()[:1] not in _JSON_STARTS:
        return message
    try:
        return json.loads(message)
    except ValueError:  # JSONDecodeError included
        return message


logger = Logger(
    service=SERVICE,
    logger_formatter=RedactingFormatter(use_rfc3339=True, utc=True, json_deserializer=json_message),
)


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
