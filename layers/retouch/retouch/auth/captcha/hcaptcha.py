"""hCaptcha: `POST https://api.hcaptcha.com/siteverify`, form-encoded `secret`, `response`
(the token), `remoteip` and `sitekey`; the answer is JSON `{"success", "error-codes",
"hostname", ...}` (https://docs.hcaptcha.com/#verify-the-user-response-server-side).

`success: true` passes (with `RETOUCH_CAPTCHA_HOSTNAMES`, only for a token solved on one of
those sites: the answer's `hostname`). `success: false` refuses with the answer's
`error-codes`, except the codes that say our own configuration is wrong (a missing or invalid
secret, a sitekey that is not the secret's): those are no verdict about the client, so they
raise `CaptchaUnreachable` and the request is refused as unavailable, logged, rather than
blamed on its sender.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import httpx

from retouch.auth.captcha.calls import post_for_answer
from retouch.auth.captcha.port import CaptchaUnreachable, Verdict

ENDPOINT = "https://api.hcaptcha.com/siteverify"
#: error-codes about our keys, not about the client's token.
CONFIGURATION_ERRORS = frozenset(
    {"missing-input-secret", "invalid-input-secret", "sitekey-secret-mismatch"}
)


class HCaptchaVerifier:
    """`CaptchaVerifier` over hCaptcha's siteverify API."""

    provider = "hcaptcha"

    def __init__(
        self,
        *,
        site_key: str,
        secret: Callable[[], str],
        endpoint: str = ENDPOINT,
        timeout_s: float = 3.0,
        hostnames: Collection[str] = (),
    ) -> None:
        """`secret` reads hCaptcha's secret key (through the secrets port, cached there);
        `hostnames`, when given, are the sites a token must have been solved on."""
        self._site_key = site_key
        self._hostnames = frozenset(hostnames)
        self._secret = secret
        self._endpoint = endpoint or ENDPOINT
        self._client = httpx.Client(timeout=timeout_s)

    def verify(self, token: str, *, remote_ip: str, randstr: str = "") -> Verdict:
        form = {"secret": self._secret(), "response": token, "sitekey": self._site_key}
        if remote_ip and remote_ip != "unknown":
            form["remoteip"] = remote_ip
        answer = post_for_answer(self._client, self._endpoint, provider=self.provider, data=form)
        return hcaptcha_verdict(answer, hostnames=self._hostnames)


def hcaptcha_verdict(answer: Any, *, hostnames: Collection[str] = ()) -> Verdict:
    """The verdict in a siteverify answer; CaptchaUnreachable when it holds none. With
    `hostnames`, a token solved on another site (its `hostname`) is refused."""
    if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
        raise CaptchaUnreachable("hcaptcha: an answer without success")
    codes = answer.get("error-codes") or []
    reasons = tuple(str(code) for code in codes) if isinstance(codes, list) else ()
    if answer["success"]:
        if hostnames and answer.get("hostname") not in hostnames:
            return Verdict(passed=False, reasons=("hostname-mismatch",))
        return Verdict(passed=True)
    ours = CONFIGURATION_ERRORS.intersection(reasons)
    if ours:
        raise CaptchaUnreachable(f"hcaptcha: {', '.join(sorted(ours))}")
    return Verdict(passed=False, reasons=reasons)
