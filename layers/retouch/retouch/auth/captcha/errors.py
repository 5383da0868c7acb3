"""The CAPTCHA's answers to a client (codes in `retouch.core.error_codes`)."""

from __future__ import annotations

from retouch.core.errors import AppError

#: Seconds a client waits before asking again when the provider cannot be reached.
RETRY_AFTER_S = 5


class CaptchaRequired(AppError):
    """The route asks for a CAPTCHA and the request carried no token (or, for Tencent
    Captcha, no `Randstr`)."""

    code = "CAPTCHA_REQUIRED"

    def __init__(self) -> None:
        super().__init__("Solve the CAPTCHA and send its token in the X-Captcha-Token header")


class CaptchaFailed(AppError):
    """The provider refused the token: unsolved, expired, used before or for another site."""

    code = "CAPTCHA_FAILED"

    def __init__(self) -> None:
        super().__init__("The CAPTCHA was not passed; solve it again")


class CaptchaUnavailable(AppError):
    """The provider could not be asked (down, slow, or refusing our keys): the request is
    refused rather than let through unchecked."""

    code = "CAPTCHA_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__(
            "The CAPTCHA cannot be checked now; retry in {retry_after} s",
            headers={"Retry-After": str(RETRY_AFTER_S)},
            retry_after=RETRY_AFTER_S,
        )
