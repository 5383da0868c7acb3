"""The optional CAPTCHA on sign-up: a port (`port.CaptchaVerifier`: a token in, a `Verdict`
out) with hCaptcha and Tencent Cloud Captcha adapters, and the check the routes call after
their own limits and before any hashing (`check.require_captcha`). Off by default
(`RETOUCH_CAPTCHA_PROVIDER`); see docs/accounts.md ("CAPTCHA")."""

from __future__ import annotations

from retouch.auth.captcha.check import captcha_routes, get_captcha, require_captcha
from retouch.auth.captcha.errors import CaptchaFailed, CaptchaRequired, CaptchaUnavailable
from retouch.auth.captcha.port import CaptchaUnreachable, CaptchaVerifier, Verdict

__all__ = [
    "CaptchaFailed",
    "CaptchaRequired",
    "CaptchaUnavailable",
    "CaptchaUnreachable",
    "CaptchaVerifier",
    "Verdict",
    "captcha_routes",
    "get_captcha",
    "require_captcha",
]
