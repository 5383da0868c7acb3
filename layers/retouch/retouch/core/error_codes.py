"""The registry of error codes: each fixes the HTTP status, the category and the message in
each language (zh-CN, en). `retouch.core.errors` holds the exceptions that carry them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum


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
    ErrorCode("ORDER_NOT_REFUNDABLE", 409, B, "订单不可退款", "The order is not refundable"),
    ErrorCode("PRECONDITION_REQUIRED", 428, C, "缺少 If-Match", "If-Match is required"),
    ErrorCode("PLAN_VERSION_STALE", 412, C, "套餐已被修改", "The plan changed since you read it"),
    ErrorCode(
        "PASSWORD_NOT_CONFIRMED",
        403,
        C,
        "密码不正确，账号未删除",
        "The password is wrong; the account was not deleted",
    ),
    ErrorCode("ALERT_RULES_STALE", 409, C, "告警规则已变更，请刷新", "The alert rules changed"),
    ErrorCode("ALERT_CHANNEL_UNCONFIGURED", 409, C, "未配置该告警渠道", "No such alert channel"),
    ErrorCode("ALERT_NOT_DELIVERED", 502, S, "告警渠道未接收", "The alert channel refused it"),
    ErrorCode(
        "VERIFICATION_TOKEN_INVALID",
        400,
        C,
        "验证链接无效、已使用或已过期",
        "The verification link is invalid, used or expired",
    ),
    ErrorCode("EMAIL_NOT_VERIFIED", 403, B, "邮箱尚未验证", "The email address is not verified"),
    ErrorCode("CAPTCHA_REQUIRED", 400, C, "请先完成人机验证", "A CAPTCHA token is required"),
    ErrorCode("CAPTCHA_FAILED", 403, C, "人机验证未通过", "The CAPTCHA was not passed"),
    ErrorCode(
        "CAPTCHA_UNAVAILABLE",
        503,
        S,
        "人机验证服务暂不可用，请稍后再试",
        "The CAPTCHA cannot be checked now; retry in a moment",
    ),
)
