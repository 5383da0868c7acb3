"""The sign-up CAPTCHA's variables of a function, checked before the first API call: what
the settings would refuse at the first request (an unknown provider, a provider without its
app id or secret reference) is refused by the deploy instead, naming the variable, never its
value. Empty or `off` asks for no CAPTCHA, and then nothing else is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PROVIDERS = ("hcaptcha", "tencent")
SITE_KEYS = {"hcaptcha": re.compile(r"[A-Za-z0-9-]{1,64}"), "tencent": re.compile(r"[1-9][0-9]*")}
#: A Tencent SSM reference (config.SECRET_REFERENCE; core/settings checks the same).
REFERENCE = re.compile(r"tcssm:[A-Za-z0-9][A-Za-z0-9_-]{0,127}(@[A-Za-z0-9][A-Za-z0-9._-]{0,63})?")


def captcha_problems(where: str, environment: Mapping[str, str]) -> list[str]:
    """Why the CAPTCHA of the function `where` cannot work; empty when it can, when it is off,
    or when the function has none (no RETOUCH_CAPTCHA_PROVIDER variable)."""
    provider = environment.get("RETOUCH_CAPTCHA_PROVIDER", "")
    if provider in ("", "off"):
        return []
    if provider not in PROVIDERS:
        return [f"{where}: RETOUCH_CAPTCHA_PROVIDER must be off, hcaptcha or tencent"]
    problems = []
    if not SITE_KEYS[provider].fullmatch(environment.get("RETOUCH_CAPTCHA_SITE_KEY", "")):
        what = "the CaptchaAppId (digits)" if provider == "tencent" else "hCaptcha's sitekey"
        problems.append(f"{where}: RETOUCH_CAPTCHA_SITE_KEY must be {what}")
    if not REFERENCE.fullmatch(environment.get("RETOUCH_CAPTCHA_SECRET", "")):
        problems.append(f"{where}: RETOUCH_CAPTCHA_SECRET must be a tcssm:<name> reference")
    return problems
