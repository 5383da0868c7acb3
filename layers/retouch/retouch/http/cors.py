"""CORS for the browser origins of `RETOUCH_CORS_ORIGINS`, with Starlette's `CORSMiddleware`.

The origins come from settings, which are parsed on first use and never at import (a function's
`app.py` builds its app at import), so the middleware is built on the first request and rebuilt
only if the configured origins change. With no origins configured, requests pass through and
no response carries a CORS header.

It wraps the request-context middleware, so the answers that middleware makes itself (429,
413, 415, the last-resort 500) carry the CORS headers too and a browser can read them; a
preflight is answered here, before the per-IP limit (it costs nothing and runs no route).
Bearer tokens travel in `Authorization`, never in cookies, so credentials stay off.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from retouch.core.settings import SettingsError, get_settings

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Request-ID",
    "If-None-Match",
    "Accept-Language",
    "Last-Event-ID",  # EventSource sends it when it reconnects to an event stream
    "X-Captcha-Token",  # the sign-up CAPTCHA's token (retouch.auth.captcha)
    "X-Captcha-Randstr",
)
EXPOSED_HEADERS = (
    "X-Request-ID",
    "ETag",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
)
PREFLIGHT_MAX_AGE_S = 600


class SettingsCorsMiddleware:
    """`CORSMiddleware` over `app` for the configured origins; a pass-through without any."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        methods: tuple[str, ...] = ALLOWED_METHODS,
        headers: tuple[str, ...] = ALLOWED_HEADERS,
        exposed: tuple[str, ...] = EXPOSED_HEADERS,
    ) -> None:
        """The API's methods and headers by default; the local storage gateway names its own."""
        self.app = app
        self._rules = (methods, headers, exposed)
        self._origins: tuple[str, ...] = ()
        self._cors: ASGIApp = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            origins = tuple(get_settings().cors_origins)
        except SettingsError:
            # The request-context middleware answers with its problem+json 500 and logs why.
            origins = ()
        if not origins:
            await self.app(scope, receive, send)
            return
        if origins != self._origins:
            methods, headers, exposed = self._rules
            self._cors = CORSMiddleware(
                self.app,
                allow_origins=origins,
                allow_methods=methods,
                allow_headers=headers,
                expose_headers=exposed,
                allow_credentials=False,
                max_age=PREFLIGHT_MAX_AGE_S,
            )
            self._origins = origins
        await self._cors(scope, receive, send)
