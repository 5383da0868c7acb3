"""The words a client reads in a problem, in every language the API speaks.

A domain raises an `AppError` with an English detail: a template whose `{names}` come from the
error's context (`super().__init__("No such {kind} version", kind=kind)`), and a `FieldError`
with an English message. `localize` renders either in the negotiated language through
`DETAILS`, keyed by that English template. A template missing from the table is not shown at
all: the client reads the code's title instead, so an internal message ("database
unreachable") never leaks and no answer mixes languages. `tests/unit/test_localisation.py`
walks every detail raised in the layer and fails on one missing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retouch.core.validation_messages import VALIDATION_ZH

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

#: English template → Chinese template; the keys are the only details a client reads.
DETAILS: Mapping[str, str] = {
    # http
    "The request body is not valid JSON": "请求体不是有效的 JSON",
    "The request body exceeds {limit} bytes": "请求体超过 {limit} 字节",
    "Send the request body as application/json": "请以 application/json 发送请求体",
    "The request is invalid": "请求参数校验失败",
    "Too many requests; retry in {retry_after} s": "请求过于频繁，请在 {retry_after} 秒后重试",
    "Too many sign-in attempts; retry in {retry_after} s": (
        "登录尝试过于频繁，请在 {retry_after} 秒后重试"
    ),
    "The service is temporarily unavailable; retry later": "服务暂时不可用，请稍后重试",
    # accounts
    "Too many sign-ups; retry in {retry_after} s": "注册过于频繁，请在 {retry_after} 秒后重试",
    "Too many password reset requests; retry in {retry_after} s": (
        "重置密码请求过于频繁，请在 {retry_after} 秒后重试"
    ),
    "Passwords are being checked for many requests; retry in {retry_after} s": (
        "当前密码校验请求过多，请在 {retry_after} 秒后重试"
    ),
    "Solve the CAPTCHA and send its token in the X-Captcha-Token header": (
        "请完成人机验证，并在 X-Captcha-Token 请求头中发送其票据"
    ),
    "The CAPTCHA was not passed; solve it again": "人机验证未通过，请重新验证",
    "The CAPTCHA cannot be checked now; retry in {retry_after} s": (
        "暂时无法校验人机验证，请在 {retry_after} 秒后重试"
    ),
    "The reset link is invalid, used or expired; request a new one": (
        "重置链接无效、已使用或已过期，请重新申请"
    ),
    "The current password is wrong": "当前密码不正确",
    "The password is wrong; the account was not deleted": "密码不正确，账号未删除",
    "Delete your own account with DELETE /v1/me": "请通过 DELETE /v1/me 删除自己的账号",
    "the new password must differ from the current one": "新密码不能与当前密码相同",
    "The verification link is invalid, used or expired; request a new one": (
        "验证链接无效、已使用或已过期，请重新申请"
    ),
    "Too many verification codes tried for this address; retry in {retry_after} s": (
        "该邮箱的验证码尝试次数过多，请在 {retry_after} 秒后重试"
    ),
    "Too many verification mails requested; retry in {retry_after} s": (
        "验证邮件请求过于频繁，请在 {retry_after} 秒后重试"
    ),
    "Verify your email address first: open the link in the mail we sent": (
        "请先验证邮箱：打开我们发送的邮件中的链接"
    ),
    # access
    "Send an access token: Authorization: Bearer <token>": (
        "请提供访问令牌：Authorization: Bearer <token>"
    ),
    "Your role does not allow this": "你的角色无权执行此操作",
    "The access token has been revoked": "访问令牌已注销",
    "The account is not active": "账号已停用或不存在",
    "The access token is invalid": "访问令牌无效",
    "The token is not an access token": "该令牌不是访问令牌",
    "The access token has expired": "访问令牌已过期",
    "Wrong email or password": "邮箱或密码错误",
    "The refresh token is invalid; sign in again": "刷新令牌无效，请重新登录",
    "Another admin must change your role or status": "你的角色或状态须由其他管理员修改",
    "The stream token is invalid or has expired": "事件流令牌无效或已过期",
    "Send a stream token (?token=) or an access token (Authorization: Bearer)": (
        "请提供事件流令牌（?token=）或访问令牌（Authorization: Bearer）"
    ),
    "At most {limit} event streams may be open at once": "最多同时打开 {limit} 个事件流",
    # resources
    "No such feature": "功能不存在",
    "No such {kind} version": "该版本不存在（{kind}）",
    "No {kind} version before the current one": "当前版本之前没有更早的版本（{kind}）",
    "No such task": "任务不存在",
    "No such upload": "上传不存在",
    "No such object": "文件不存在",
    "No quota account": "额度账户不存在",
    "No reservation": "没有对应的额度预留",
    # business
    "{needed} credits are needed; the balance is {balance}": (
        "需要 {needed} 点额度，当前余额 {balance}"
    ),
    "This reference was used for different credits": "该引用已用于不同的额度操作",
    "The task has already finished": "任务已结束",
    "This feature is switched off for now": "该功能暂时关闭",
    "This feature is not part of your plan": "你的套餐不包含该功能",
    "Your plan allows {limit} unfinished tasks at once": "你的套餐最多同时进行 {limit} 个任务",
    "Your plan allows input images of at most {limit} pixels": (
        "你的套餐允许的输入图片最多 {limit} 像素"
    ),
    "No such plan": "套餐不存在",
    "The notification signature does not verify": "通知签名校验失败",
    "The notification timestamp is outside the accepted window": "通知时间戳超出允许范围",
    "The notification nonce was already used": "通知随机串已被使用",
    "No order of this provider matches the notification": "没有与通知匹配的订单",
    "The paid amount differs from the order's": "支付金额与订单金额不符",
    "The transaction already paid another order": "该交易已用于支付其他订单",
    "No such payment provider": "支付渠道不存在",
    "No such product": "商品不存在",
    "No such order": "订单不存在",
    "Send If-Match with the plan's version": "请用 If-Match 发送套餐的版本",
    "The plan's version is {version}, not {expected}": "套餐的版本是 {version}，不是 {expected}",
    "The plan is invalid": "套餐无效",
    "no such feature in the catalogue": "功能目录中没有该功能",
    "the default plan cannot be archived": "默认套餐不能归档",
    "the plan is archived": "该套餐已归档",
    "Only a paid order can be refunded": "只有已支付的订单可以退款",
    "No refund of this provider matches the notification": "没有与通知匹配的退款",
    "The refunded amount differs from the order's": "退款金额与订单金额不符",
    "The payment provider cannot be reached; retry later": "支付渠道暂时无法访问，请稍后重试",
    "The expiry must be in the future, and the default plan never expires": (
        "到期时间须在将来，且默认套餐不设到期时间"
    ),
    "This feature is not configured": "该功能尚未配置",
    # validation
    "The configuration is invalid": "配置无效",
    "The inputs do not match the feature's form": "输入不符合该功能的表单",
    "The inputs name uploads that cannot be used": "输入引用了无法使用的上传",
    "no ready upload of yours": "不是你的已就绪上传",
    "no such feature": "功能不存在",
    "no such plan": "套餐不存在",
    "no such product": "商品不存在",
    "no such payment provider": "支付渠道不存在",
    "not a valid expiry": "到期时间无效",
    "The cursor is invalid": "分页游标无效",
    "invalid cursor": "游标无效",
    "An upload is at most {max_bytes} bytes": "上传文件最大 {max_bytes} 字节",
    "too large": "过大",
    "The Idempotency-Key header is invalid": "Idempotency-Key 请求头无效",
    "1-255 printable ASCII characters": "须为 1-255 个可打印 ASCII 字符",
    "A request with this Idempotency-Key is still in progress": "相同幂等键的请求正在处理中",
    "This Idempotency-Key was used for a different request": "幂等键已用于不同的请求",
    # admin
    "per-route metrics are read from the local sink only; on the clouds see the CloudWatch "
    "dashboard or Cloud Monitor": (
        "接口指标仅从本地指标文件读取；云上请查看 CloudWatch 仪表盘或云监控"
    ),
    "no such console file": "控制台文件不存在",
    "The alert rules are at version {current}, not {version}; reload them and edit again": (
        "告警规则已是第 {current} 版而非第 {version} 版，请重新加载后再修改"
    ),
    "No {channel} channel is configured on this deployment": "当前部署未配置 {channel} 告警渠道",
    "The {channel} channel did not accept the test message": "{channel} 告警渠道未接收测试消息",
    # storage
    "The signed URL is missing a parameter or has a malformed one": (
        "签名链接缺少参数或参数格式错误"
    ),
    "The upload is larger than {max_bytes} bytes": "上传内容超过 {max_bytes} 字节",
    "The security token is invalid": "安全令牌无效",
    "The security token has expired": "安全令牌已过期",
    "The security token does not cover this key": "安全令牌不允许访问该对象",
    "The signature does not match this request": "签名与请求不匹配",
    "The signed URL has expired": "签名链接已过期",
    "The signed URL names no valid object": "签名链接未指向有效对象",
    "The storage key is empty or too long": "存储路径为空或过长",
    "A storage key prefix ends with '/'": "存储路径前缀须以 '/' 结尾",
    "A storage key segment has a character outside [A-Za-z0-9._-]": (
        "存储路径含有 [A-Za-z0-9._-] 以外的字符"
    ),
    # request schemas (pydantic `value_error`s raised by our validators)
    "not a valid email address": "不是有效的邮箱地址",
    "mix at least two of: lower case, upper case, digits, symbols": (
        "须包含小写字母、大写字母、数字、符号中的至少两类"
    ),
    "the password must not be the email address": "密码不能与邮箱相同",
    "give role, status or both": "请提供 role、status 或两者",
    "give the token, or the email and the code": "请提供 token，或同时提供 email 和 code",
    "name at least one of cost, enabled, form_version, pipeline_version": (
        "请至少提供 cost、enabled、form_version、pipeline_version 之一"
    ),
    "The threshold is out of range for the rule's kind": "阈值超出该类规则的允许范围",
    "Each rule's key must be unique": "每条规则的 key 必须唯一",
}


def known(template: str) -> bool:
    """Whether `template` is one a client may read."""
    return template in DETAILS or template in VALIDATION_ZH


def localize(template: str, language: str, params: Mapping[str, Any] | None = None) -> str | None:
    """`template` in `language` with `params` filled in; None when it is not in the table."""
    zh = DETAILS.get(template) or VALIDATION_ZH.get(template)
    if zh is None:
        return None
    chosen = template if language == "en" else zh
    try:
        return chosen.format_map(dict(params or {}))
    except (KeyError, IndexError, ValueError):
        return None
