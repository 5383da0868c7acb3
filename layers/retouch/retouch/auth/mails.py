"""The account mails, in zh-CN and en: a password reset link, an address verification link,
and the notice a registration of an address that has an account sends instead of telling the
registrant so."""

from __future__ import annotations

from retouch.notify.mailer import Mail

_RESET = {
    "en": (
        "Reset your Retouch password",
        "Someone asked to reset the password of your Retouch account.\n\n"
        "Open this link within {minutes} minutes to choose a new password:\n{link}\n\n"
        "The link works once. Resetting signs you out everywhere.\n"
        "If you did not ask for this, ignore this mail: your password stays as it is.\n",
    ),
    "zh-CN": (
        "重置你的 Retouch 密码",
        "有人申请重置你的 Retouch 账号密码。\n\n"
        "请在 {minutes} 分钟内打开以下链接设置新密码：\n{link}\n\n"
        "该链接只能使用一次。重置后所有设备都将退出登录。\n"
        "如果这不是你本人的操作，请忽略此邮件，你的密码不会改变。\n",
    ),
}

_VERIFY = {
    "en": (
        "Confirm your Retouch email address",
        "Welcome to Retouch. Open this link within {hours} hours to confirm this address "
        "and sign in:\n{link}\n\nOr enter this code in the app: {code}\n\n"
        "Your free plan's credits arrive once the address is confirmed. The link works once.\n"
        "If you did not sign up, ignore this mail: no account is used without it.\n",
    ),
    "zh-CN": (
        "确认你的 Retouch 邮箱",
        "欢迎使用 Retouch。请在 {hours} 小时内打开以下链接确认此邮箱并登录：\n{link}\n\n"
        "或在应用中输入验证码：{code}\n\n"
        "邮箱确认后即可获得免费套餐的额度。该链接只能使用一次。\n"
        "如果你没有注册过，请忽略此邮件。\n",
    ),
}

_ALREADY_REGISTERED = {
    "en": (
        "You already have a Retouch account",
        "Someone tried to register a Retouch account with this address, which already has "
        "one.\n\nIf it was you, sign in, or reset your password if you forgot it.\n"
        "If it was not you, ignore this mail: nothing was changed.\n",
    ),
    "zh-CN": (
        "你已经有 Retouch 账号了",
        "有人尝试用此邮箱注册 Retouch 账号，但该邮箱已经注册过。\n\n"
        "如果是你本人，请直接登录；忘记密码可以重置。\n"
        "如果不是你本人，请忽略此邮件，账号没有任何变化。\n",
    ),
}


def _pick(templates: dict[str, tuple[str, str]], language: str) -> tuple[str, str]:
    return templates["en" if language == "en" else "zh-CN"]


def reset_mail(*, to: str, link: str, ttl_s: int, language: str) -> Mail:
    subject, text = _pick(_RESET, language)
    body = text.format(minutes=max(1, ttl_s // 60), link=link)
    return Mail(to=to, subject=subject, text=body, language=language, kind="password_reset")


def verification_mail(*, to: str, link: str, code: str, ttl_s: int, language: str) -> Mail:
    subject, text = _pick(_VERIFY, language)
    body = text.format(hours=max(1, ttl_s // 3600), link=link, code=code)
    return Mail(to=to, subject=subject, text=body, language=language, kind="email_verification")


def already_registered_mail(*, to: str, language: str) -> Mail:
    subject, text = _pick(_ALREADY_REGISTERED, language)
    return Mail(to=to, subject=subject, text=text, language=language, kind="already_registered")
