"""Whether a request's CAPTCHA holds: off, not asked on this route, passed, or refused.

The route counts the request against its own limits first (a flood is refused before it costs
a provider call), then calls `require_captcha`, then hashes or mails: a request the CAPTCHA
refuses costs nothing but the call. The provider's silence fails closed: a timeout, a 5xx or
our own keys refused answer 503 `CAPTCHA_UNAVAILABLE` with `Retry-After`, logged as a
refusal, never a request let through unchecked. Every check is counted (`CaptchaChecks`, by
provider and outcome).
"""

from __future__ import annotations

from functools import cache

from retouch.auth.captcha.errors import CaptchaFailed, CaptchaRequired, CaptchaUnavailable
from retouch.auth.captcha.port import CaptchaUnreachable, CaptchaVerifier
from retouch.core.logging import logger
from retouch.core.metrics import emit
from retouch.core.secrets import get_secret
from retouch.core.settings import Settings, get_settings
from retouch.core.settings.captcha import CaptchaRoute


def captcha_routes(settings: Settings) -> list[CaptchaRoute]:
    """The routes that ask for a CAPTCHA token: none while the provider is off."""
    return [] if settings.captcha_provider == "off" else list(settings.captcha_routes)


def require_captcha(
    settings: Settings,
    *,
    route: CaptchaRoute,
    token: str | None,
    randstr: str | None,
    client_ip: str,
    verifier: CaptchaVerifier | None = None,
) -> None:
    """Return when `route` asks for no CAPTCHA or the provider passes the token; else
    CaptchaRequired, CaptchaFailed or CaptchaUnavailable. `verifier` is the process's
    (`get_captcha()`) unless given."""
    if route not in captcha_routes(settings):
        return
    provider = settings.captcha_provider
    if not token or (provider == "tencent" and not randstr):
        raise CaptchaRequired
    try:
        verdict = (verifier or get_captcha()).verify(
            token, remote_ip=client_ip, randstr=randstr or ""
        )
    except CaptchaUnreachable as exc:
        emit("CaptchaChecks", 1, provider=provider, outcome="unavailable")
        logger.warning(
            "captcha provider unavailable: request refused",
            extra={"security_event": "captcha_unavailable", "route": route, "error": str(exc)},
        )
        raise CaptchaUnavailable from None
    emit("CaptchaChecks", 1, provider=provider, outcome="passed" if verdict.passed else "failed")
    if not verdict.passed:
        logger.warning(
            "captcha not passed: request refused",
            extra={"security_event": "captcha_failed", "route": route, "reasons": verdict.reasons},
        )
        raise CaptchaFailed


@cache
def get_captcha() -> CaptchaVerifier:
    """The process's verifier for the configured provider, built on first use (forgotten by
    `reset_clients()`); its adapter module, and httpx, are imported only then."""
    settings = get_settings()
    reference = settings.captcha_secret

    def secret() -> str:
        return get_secret(reference)

    if settings.captcha_provider == "tencent":
        from retouch.auth.captcha.tencent import TencentCaptchaVerifier

        return TencentCaptchaVerifier(
            app_id=settings.captcha_site_key,
            app_secret=secret,
            endpoint=settings.captcha_endpoint,
            timeout_s=settings.captcha_timeout_s,
        )
    from retouch.auth.captcha.hcaptcha import HCaptchaVerifier

    return HCaptchaVerifier(
        site_key=settings.captcha_site_key,
        secret=secret,
        endpoint=settings.captcha_endpoint,
        timeout_s=settings.captcha_timeout_s,
        hostnames=settings.captcha_hostnames,
    )
