"""The exceptions that carry the error codes (the registry: `retouch.core.error_codes`).

A code fixes the HTTP status, the category and the message in each language. Domains raise
subclasses of `AppError`; one handler turns any of them into RFC 9457 problem+json, so no
route maps errors itself and nothing matches on message text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from retouch.core.error_codes import REGISTRY as REGISTRY
from retouch.core.error_codes import Category as Category
from retouch.core.error_codes import ErrorCode as ErrorCode

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field, as listed in a problem's `errors` (`{field, code, message}`).

    `field` is a path from the request part: `body.inputs.mask`, `query.limit`,
    `header.idempotency-key`. `message` is English, a template of `core.messages` filled from
    `params`, and is shown in the client's language; `type` is its stable `code`.
    """

    field: str
    message: str
    type: str
    params: Mapping[str, Any] | None = None


def _fill(template: str | None, context: Mapping[str, Any]) -> str | None:
    if template is None or not context:
        return template
    try:
        return template.format_map(context)
    except (KeyError, IndexError, ValueError):
        return template


class AppError(Exception):
    """Base of every failure reported to a client; `code` selects the registry entry."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, int] | None = None,
        **context: Any,
    ) -> None:
        """`detail` is an English template of `core.messages`, its `{names}` filled from
        `context`; `extensions` are extra members of the problem body (402's `needed`)."""
        self.template = detail
        self.detail = _fill(detail, context)
        super().__init__(self.detail or self.code)
        self.errors = errors or []
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})
        self.context = context

    @property
    def error_code(self) -> ErrorCode:
        return REGISTRY[self.code]


class MalformedRequest(AppError):
    """The body could not be parsed (for example, broken JSON)."""

    code = "MALFORMED_REQUEST"


class Unauthenticated(AppError):
    """No credentials, or credentials that do not verify; `headers` carries WWW-Authenticate."""

    code = "UNAUTHENTICATED"

    def __init__(self, detail: str | None = None, **context: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **context)


class TokenExpired(Unauthenticated):
    """A well-signed access token past its `exp`: the client should refresh."""

    code = "TOKEN_EXPIRED"


class Forbidden(AppError):
    """The caller is known but their role does not allow this."""

    code = "FORBIDDEN"


class NotFound(AppError):
    """No such route or resource, or one the caller may not see."""

    code = "NOT_FOUND"


class MethodNotAllowed(AppError):
    """The route exists but not for this method; `headers` carries `Allow`."""

    code = "METHOD_NOT_ALLOWED"


class PayloadTooLarge(AppError):
    """The body is larger than the configured limit."""

    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(AppError):
    """A JSON route received a body of another content type."""

    code = "UNSUPPORTED_MEDIA_TYPE"


class ValidationFailed(AppError):
    """The input breaks the schema; `errors` lists each field."""

    code = "VALIDATION_FAILED"


class ServiceUnavailable(AppError):
    """A dependency (database, cache, vendor) cannot be reached right now; retry later."""

    code = "SERVICE_UNAVAILABLE"


class InternalError(AppError):
    """An unexpected failure; the client sees only the generic message."""

    code = "INTERNAL"


RAISES_ATTRIBUTE = "__raises__"


def raises(*errors: type[AppError]) -> Callable[[F], F]:
    """Declare the errors an endpoint or a dependency raises beyond those its shape implies.

    The OpenAPI contract (`retouch.http.contract`) lists the codes on every operation whose
    endpoint or dependency tree carries the mark; a route that raises an undeclared error fails
    the contract tests.
    """

    def mark(function: F) -> F:
        declared = getattr(function, RAISES_ATTRIBUTE, ())
        setattr(function, RAISES_ATTRIBUTE, (*declared, *(error.code for error in errors)))
        return function

    return mark
