"""The operator console's page and files as the admin function serves them: content types, a
year's cache for the versioned files and none for the page, a strict policy with no inline
script and nothing from another host, a 404 problem for anything else, and the vendored uPlot
exactly as npm ships it (tests/integration/console/ drives it in a browser)."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from retouch.admin.console import POLICY, console_router
from retouch.core.ratelimit import MemoryRateLimiter
from retouch.http import create_app
from scripts.local.lambda_runtime import ROOT, load_function

FOLDER = ROOT / "functions" / "http" / "admin" / "console"
#: uPlot 1.6.32 from npm (`npm pack uplot@1.6.32`: dist/ and LICENSE), never edited by hand.
VENDORED = {
    "uPlot.iife.min.js": "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
    "uPlot.min.css": "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
    "uPlot.LICENSE.txt": "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd",
}


class Links(HTMLParser):
    """The page's script and stylesheet URLs, and whether any script is inline."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self._in_script = True
            if attributes.get("src"):
                self.urls.append(attributes["src"] or "")
        elif tag == "link":
            self.urls.append(attributes.get("href") or "")
        if any(name.startswith("on") for name in attributes) or "style" in attributes:
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def _app(folder: Path) -> FastAPI:
    return create_app([console_router(folder)], rate_limiter=MemoryRateLimiter())


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(_app(FOLDER), raise_server_exceptions=False)


def page_links(client: TestClient) -> Links:
    links = Links()
    links.feed(client.get("/console").text)
    return links


def test_the_page_is_served_uncached_with_a_strict_policy(client: TestClient) -> None:
    response = client.get("/console")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-security-policy"] == POLICY
    assert "default-src 'self'" in POLICY and "unsafe-inline" not in POLICY
    assert "{{assets}}" not in response.text


def test_the_page_has_no_inline_script_and_loads_only_its_own_versioned_files(
    client: TestClient,
) -> None:
    links = page_links(client)

    assert links.inline_scripts == 0
    assert len(links.urls) == 4
    for url in links.urls:
        # relative, so a stage prefix (/Prod, /release) is kept; no other host
        assert re.fullmatch(r"console/assets/[0-9a-f]{16}/[A-Za-z.]+", url), url


@pytest.mark.parametrize(
    ("suffix", "media_type"),
    [(".js", "text/javascript; charset=utf-8"), (".css", "text/css; charset=utf-8")],
)
def test_every_file_is_served_with_its_type_and_cached_for_a_year(
    client: TestClient, suffix: str, media_type: str
) -> None:
    urls = [url for url in page_links(client).urls if url.endswith(suffix)]
    version = urls[0].split("/")[2]
    names = [path.name for path in FOLDER.iterdir() if path.suffix == suffix]

    assert names
    for name in names:
        response = client.get(f"/console/assets/{version}/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == media_type
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.content == (FOLDER / name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/console/assets/0000000000000000/app.js",  # a version of another deploy
        "/console/assets/{version}/missing.js",
        "/console/assets/{version}/index.html",  # the page only at /console
        "/console/assets/{version}/..%2F..%2Fapp.py",
    ],
)
def test_anything_else_is_a_not_found_problem(client: TestClient, path: str) -> None:
    version = page_links(client).urls[0].split("/")[2]

    response = client.get(path.format(version=version))

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "NOT_FOUND"


def test_a_changed_file_changes_the_version(tmp_path: Path) -> None:
    for path in FOLDER.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    before = page_links(TestClient(_app(tmp_path))).urls[0]
    (tmp_path / "app.js").write_text("// changed\n")

    after = page_links(TestClient(_app(tmp_path))).urls[0]

    assert before.split("/")[2] != after.split("/")[2]


def test_every_module_an_import_names_is_a_served_file() -> None:
    scripts = [path for path in FOLDER.iterdir() if path.suffix == ".js"]
    imported = {
        name for path in scripts for name in re.findall(r'from "\./([^"]+)"', path.read_text())
    }

    assert imported <= {path.name for path in scripts}
    assert {"api.js", "dom.js", "i18n.js", "overview.js", "views.js"} <= imported


def test_no_console_file_loads_anything_from_another_host() -> None:
    for path in FOLDER.iterdir():
        if path.name in VENDORED:
            continue
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", path.read_text()), path.name


@pytest.mark.parametrize(("name", "sha256"), sorted(VENDORED.items()))
def test_the_vendored_chart_library_is_npms_file_unchanged(name: str, sha256: str) -> None:
    assert hashlib.sha256((FOLDER / name).read_bytes()).hexdigest() == sha256


def test_the_admin_function_serves_the_console() -> None:
    app = load_function("functions/http/admin/app.py").app

    paths = {route.path for router in app.state.routers for route in router.routes}
    assert {"/console", "/console/assets/{version}/{name}"} <= paths
