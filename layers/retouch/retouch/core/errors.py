"""The one registry of error codes, and the exceptions that carry them.

A code fixes the HTTP status, the category and the message in each language. Domains raise
subclasses of `AppError`; one handler turns any of them into RFC 9457 problem+json, so no
route maps errors itself and nothing matches on message text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Category(str, Enum):  # not StrEnum (3.11+): SCF runs Python 3.10
    CLIENT = "client"
    BUSINESS = "business"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    status: int
    category: Category
    zh_cn: str
    en: str

    def message(self, language: str) -> str:
        return self.en if language == "en" else self.zh_cn


def _codes(*codes: ErrorCode) -> dict[str, ErrorCode]:
    return {code.code: code for code in codes}


C, B, S = Category.CLIENT, Category.BUSINESS, Category.SYSTEM

REGISTRY: Mapping[str, ErrorCode] = _codes(
    ErrorCode("MALFORMED_REQUEST", 400, C, "请求格式错误", "The request is malformed"),
    ErrorCode("UNAUTHENTICATED", 401, C, "未登录或登录凭证无效", "Authentication required"),
    ErrorCode("TOKEN_EXPIRED", 401, C, "登录已过期，请重新登录", "The access token has expired"),
    ErrorCode("QUOTA_EXCEEDED", 402, B, "额度不足", "Not enough credits"),
    ErrorCode("FORBIDDEN", 403, C, "没有权限执行此操作", "You may not do this"),
    ErrorCode(
        "SIGNATURE_INVALID",
        403,
        C,
        "签名无效或已过期",
        "The signature is invalid or has expired",
    ),
    ErrorCode("NOT_FOUND", 404, C, "资源不存在", "Not found"),
    ErrorCode("METHOD_NOT_ALLOWED", 405, C, "不支持该请求方法", "Method not allowed"),
    ErrorCode(
        "IDEMPOTENCY_KEY_IN_USE",
        409,
        C,
        "相同幂等键的请求正在处理中",
        "A request with this Idempotency-Key is still in progress",
    ),
    ErrorCode("FEATURE_UNAVAILABLE", 409, B, "该功能暂不可用", "This feature is unavailable"),
    ErrorCode(
        "TASK_NOT_CANCELABLE",
        409,
        B,
        "任务已结束，无法取消",
        "The task has finished and cannot be canceled",
    ),
    ErrorCode("PAYLOAD_TOO_LARGE", 413, C, "请求体过大", "The request body is too large"),
    ErrorCode("UPLOAD_TOO_LARGE", 413, C, "上传文件超过允许的大小", "The upload is too large"),
    ErrorCode("UNSUPPORTED_MEDIA_TYPE", 415, C, "不支持的内容类型", "Unsupported content type"),
    ErrorCode("VALIDATION_FAILED", 422, C, "请求参数校验失败", "The request is invalid"),
    ErrorCode(
        "IDEMPOTENCY_KEY_REUSED",
        422,
        C,
        "幂等键已用于不同的请求",
        "This Idempotency-Key was used for a different request",
    ),
    ErrorCode("RATE_LIMITED", 429, C, "请求过于频繁，请稍后再试", "Too many requests"),
    ErrorCode("INTERNAL", 500, S, "服务器内部错误", "Internal server error"),
    ErrorCode(
        "INPUT_UNPROCESSABLE",
        422,
        B,
        "图片无法处理，额度已退回",
        "The image could not be processed; its credits were returned",
    ),
    ErrorCode(
        "GENERATION_FAILED",
        502,
        S,
        "生成失败，额度已退回",
        "The edit could not be completed; its credits were returned",
    ),
    ErrorCode(
        "TASK_TIMEOUT",
        504,
        S,
        "任务处理超时，额度已退回",
        "The task took too long; its credits were returned",
    ),
    ErrorCode(
        "SERVICE_UNAVAILABLE",
        503,
        S,
        "服务暂时不可用，请稍后再试",
        "The service is temporarily unavailable",
    ),
    ErrorCode(
        "DEAD_LETTERS_UNAVAILABLE",
        409,
        S,
        "当前部署的队列不支持查看或重投死信",
        "Dead letters cannot be listed or redriven on this deployment's queue backend",
    ),
    ErrorCode(
        "ROUTE_METRICS_UNAVAILABLE",
        409,
        S,
        "当前部署的接口指标在云监控中查看",
        "Per-route metrics of this deployment are in the cloud's monitoring console",
    ),
    ErrorCode("TOO_MANY_STREAMS", 429, C, "同时打开的事件流过多", "Too many open event streams"),
    ErrorCode(
        "RESET_TOKEN_INVALID",
        400,
        C,
        "重置链接无效、已使用或已过期",
        "The reset link is invalid, used or expired",
    ),
    ErrorCode("CURRENT_PASSWORD_WRONG", 400, C, "当前密码不正确", "The current password is wrong"),
    ErrorCode(
        "AUTH_BUSY", 503, S, "账号服务繁忙，请稍后再试", "Sign-in is busy; retry in a moment"
    ),
    ErrorCode("PLAN_LIMIT_REACHED", 409, B, "已达到套餐限制", "Your plan's limit is reached"),
    ErrorCode(
        "PAYMENT_MISMATCH",
        409,
        B,
        "支付通知与订单不符",
        "The payment notification does not match an order",
    ),
    ErrorCode(
        "VERIFICATION_TOKEN_INVALID",
        400,
        C,
        "验证链接无效、已使用或已过期",
        "The verification link is invalid, used or expired",
    ),
    ErrorCode("EMAIL_NOT_VERIFIED", 403, B, "邮箱尚未验证", "The email address is not verified"),
)


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
