"""Security headers the request-context middleware adds to every response, errors included.

- `X-Content-Type-Options: nosniff` always: a browser must not read a JSON body as a script.
- `Cache-Control: no-store` on an answer to a request carrying `Authorization`, unless the route
  chose its own caching (the task read's `private, no-cache` with an ETag, the event stream's
  `no-cache`): a shared or disk cache must not keep one caller's data.
- `Strict-Transport-Security` when the request came over TLS (`scheme` https, or API Gateway's
  `X-Forwarded-Proto: https`): a header sent over plain HTTP would be meaningless.
- `Content-Security-Policy` on any answer that is not JSON: `default-src 'none'` forbids every
  load, so an HTML or text body cannot run anything. FastAPI's interactive docs (Swagger UI at
  `docs_url`, ReDoc at `redoc_url`) are pages that load their bundle from jsDelivr and start it
  with an inline script, so they get a policy that allows exactly what they load.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import Scope

RawHeaders = list[tuple[bytes, bytes]]

HSTS = b"max-age=31536000; includeSubDomains"
NO_STORE = b"no-store"
STRICT_POLICY = b"default-src 'none'; frame-ancestors 'none'"
#: What Swagger UI and ReDoc pages load: their bundles and styles from jsDelivr, an inline
#: start-up script, ReDoc's fonts and its web worker, the favicon, and the schema from this host.
DOCS_POLICY = (
    b"default-src 'none'; "
    b"script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    b"font-src https://fonts.gstatic.com; "
    b"img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    b"worker-src blob:; "
    b"connect-src 'self'; "
    b"frame-ancestors 'none'"
)


def add_security_headers(sent: RawHeaders, scope: Scope, request: Headers) -> None:
    """Append the security headers `sent` lacks for the request of `scope`."""
    present = {name.lower() for name, _ in sent}
    if b"x-content-type-options" not in present:
        sent.append((b"x-content-type-options", b"nosniff"))
    if "authorization" in request and b"cache-control" not in present:
        sent.append((b"cache-control", NO_STORE))
    if _over_tls(scope, request) and b"strict-transport-security" not in present:
        sent.append((b"strict-transport-security", HSTS))
    if b"content-security-policy" not in present and not _is_json(sent):
        policy = DOCS_POLICY if _is_docs_page(scope) else STRICT_POLICY
        sent.append((b"content-security-policy", policy))


def _over_tls(scope: Scope, request: Headers) -> bool:
    forwarded = request.get("x-forwarded-proto", "").split(",", 1)[0].strip().lower()
    return scope.get("scheme") == "https" or forwarded == "https"


def _is_json(sent: RawHeaders) -> bool:
    for name, value in sent:
        if name.lower() == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or media_type.endswith(b"+json")
    return False


def _is_docs_page(scope: Scope) -> bool:
    app = scope.get("app")
    pages = {getattr(app, "docs_url", None), getattr(app, "redoc_url", None)}
    return scope.get("path") in pages - {None}
