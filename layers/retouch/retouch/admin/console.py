"""`/console`: the operator console's page and its files, served by the admin function.

The page needs no sign-in: it holds no data. Every number it shows comes from the admin routes,
which do (the access token lives in the page's memory only). The files sit in one folder (the
function's `console/`: plain JS modules, the stylesheet, uPlot vendored from npm) and are
served from memory:

- `GET /console`: the page, `Cache-Control: no-cache`, its links pointing at
  `console/assets/{version}/…` (relative, so an API stage prefix such as `/Prod` is kept).
- `GET /console/assets/{version}/{name}`: a file, cached for a year (`immutable`). `version` is
  a hash of every file, so a new deploy's page asks for new URLs; an old or unknown version or
  name is a 404 `NOT_FOUND` problem, never a stale file.

Both answer with a strict policy: `default-src 'self'`, no inline script or style, nothing
from another host, so the console works offline and where CDNs are unreachable.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from retouch.core.errors import NotFound

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE = "index.html"
ASSETS_MARK = "{{assets}}"
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


class ConsoleFiles:
    """The console folder read once: the page with its asset links filled in, and the files."""

    def __init__(self, folder: Path) -> None:
        files = {
            path.name: path.read_bytes()
            for path in sorted(folder.iterdir())
            if path.is_file() and path.suffix in MEDIA_TYPES
        }
        digest = hashlib.sha256()
        for name, content in files.items():
            digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
        self.version = digest.hexdigest()[:16]
        page = files.pop(PAGE).decode()
        self.page = page.replace(ASSETS_MARK, f"console/assets/{self.version}").encode()
        self.files = files

    def asset(self, version: str, name: str) -> tuple[bytes, str]:
        """The named file's bytes and media type; NotFound unless `version` is this one's."""
        content = self.files.get(name)
        if version != self.version or content is None:
            raise NotFound("no such console file")
        return content, MEDIA_TYPES[Path(name).suffix]


def console_router(folder: Path) -> APIRouter:
    """The two console routes over `folder`, kept out of the OpenAPI document (not an API)."""
    files = ConsoleFiles(folder)
    router = APIRouter()

    async def page(_request: Request) -> Response:
        return _answer(files.page, MEDIA_TYPES[".html"], "no-cache")

    async def asset(request: Request) -> Response:
        params = request.path_params
        content, media_type = files.asset(params["version"], params["name"])
        return _answer(content, media_type, IMMUTABLE)

    router.add_route("/console", page, methods=["GET"], include_in_schema=False)
    router.add_route(
        "/console/assets/{version}/{name}", asset, methods=["GET"], include_in_schema=False
    )
    return router


def _answer(content: bytes, media_type: str, cache: str) -> Response:
    headers = {"cache-control": cache, "content-security-policy": POLICY}
    return Response(content, media_type=media_type, headers=headers)
