"""Issue 18 item 5: the docs page renders with no network. Swagger UI's files are served by the
gateway itself (`/docs/assets/`, from npm's swagger-ui-dist), never from a CDN; headless
Chromium, with every request to another host refused, shows the operations. The screenshot is
kept under test-artefacts/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Route, sync_playwright

from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template
from scripts.local.servers import serving_app

pytestmark = pytest.mark.integration

ARTEFACTS = Path(__file__).resolve().parents[3] / "test-artefacts"


@pytest.fixture(scope="module")
def docs_url() -> Iterator[str]:
    with serving_app(create_gateway(load_template())) as url:
        yield url


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "scripts/setup installs Debian's chromium"
    return found


def test_the_docs_page_renders_every_operation_offline(docs_url: str) -> None:
    refused: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(docs_url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route("**/*", local_only)
            # WHEN the docs page is opened with nothing reachable but the stack
            page.goto(f"{docs_url}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            ARTEFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTEFACTS / "docs-offline.png"), full_page=True)
            # THEN Swagger UI shows the API's operations, named by their operation ids' paths
            operations = page.locator(".opblock").count()
            title = page.locator(".info .title").inner_text()
            create = page.locator("#operations-tasks-tasks_create").count()
        finally:
            browser.close()

    assert refused == []
    assert operations >= 40
    assert "Retouch API" in title
    assert create == 1
    assert (ARTEFACTS / "docs-offline.png").stat().st_size > 10_000
