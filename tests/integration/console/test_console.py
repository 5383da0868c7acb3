"""Issue 17 item 5: the operator console in headless Chromium (Debian's, driven by Playwright)
against the local gateway after the five features ran, with every request to another host
refused. An admin signs in and sees each feature's tasks, the charts and per-route latency,
redrives a dead letter and sees it gone, invalidates the cache, sees the providers, the alert,
the audit rows of both actions, a task's steps, and the Chinese texts. A screenshot per view
goes to test-artefacts/console/."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, sync_playwright

from retouch.alerts.monitor import current_rules
from retouch.alerts.repository import MySQLAlertRepository
from retouch.alerts.state import AlertState, fingerprint
from retouch.core.db import get_database
from retouch.core.time import utc_now
from retouch.providers.local.samples import SAMPLE_FORMS
from retouch.queue.factory import get_queue
from tests.integration.admin_support import dead_letter, empty_queue
from tests.integration.console.conftest import ConsoleStack

pytestmark = pytest.mark.integration

ARTEFACTS = Path(__file__).resolve().parents[3] / "test-artefacts" / "console"
QUEUE = "steps-finalize"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "scripts/setup installs Debian's chromium"
    return found


class Browser:
    """One page of the console, every non-local request refused, console errors collected."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.route("**/*", self._local_only)
        page.on("console", lambda message: self._console(message.type, message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _local_only(self, route: Route) -> None:
        if route.request.url.startswith(self.url):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort("internetdisconnected")

    def _console(self, kind: str, text: str) -> None:
        if kind == "error":
            self.errors.append(text)

    def view(self, name: str) -> None:
        """Open a view from the navigation and wait for its data."""
        self.page.click(f"nav a[data-view={name}]")
        self.wait(name)

    def wait(self, name: str) -> None:
        self.page.wait_for_selector(f"#view[data-view={name}][data-ready=true]", timeout=30_000)

    def shot(self, name: str) -> None:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_timeout(300)  # the charts draw on the next frame
        self.page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)

    def numbers(self, key: str, value: str) -> dict[str, int]:
        """The table rows carrying `key`, each's `value` attribute as a number."""
        rows = self.page.locator(f"tr[{key}]")
        return {
            rows.nth(i).get_attribute(key) or "": int(rows.nth(i).get_attribute(value) or "0")
            for i in range(rows.count())
        }


@pytest.fixture(scope="module")
def browser(console_stack: ConsoleStack) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = chrome.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            yield Browser(page, console_stack.url)
        finally:
            chrome.close()


def firing_alert() -> str:
    """A firing state stored the way the monitor stores one; its rule key."""
    since = utc_now() - timedelta(minutes=3)
    state = AlertState(
        rule_key="provider_failures",
        subject="simulator",
        status="firing",
        since=since,
        value=0.75,
        fingerprint=fingerprint("provider_failures", "simulator", since),
        last_sent_at=since,
    )
    with get_database().unit_of_work() as uow:
        assert MySQLAlertRepository(uow).save_state(state)
        uow.commit()
    return state.rule_key


def test_an_admin_signs_in_and_sees_the_five_features_charts_and_routes(
    browser: Browser, console_stack: ConsoleStack
) -> None:
    page = browser.page
    # WHEN the console is opened with nothing reachable but the stack, and an admin signs in
    page.goto(f"{console_stack.url}/console")
    page.wait_for_selector("#sign-in")
    browser.shot("sign-in")
    page.fill("#email", console_stack.email)
    page.fill("#password", "not-the-password")
    page.click("#sign-in")
    page.wait_for_selector("#problem:not([hidden])")
    # a wrong password shows the problem's title and keeps the sign-in form
    assert page.locator("#problem").inner_text().strip()
    assert page.locator("nav").is_hidden()
    page.fill("#password", console_stack.password)
    page.click("#sign-in")
    browser.wait("overview")
    browser.shot("overview")

    # THEN every feature has tasks, both charts have points, and the routes have latencies
    per_feature = browser.numbers("data-feature", "data-count")
    assert set(SAMPLE_FORMS) <= set(per_feature)
    assert all(per_feature[feature] > 0 for feature in SAMPLE_FORMS), per_feature
    assert int(page.locator("[data-kpi=tasks_created] b").inner_text()) >= len(SAMPLE_FORMS)
    assert page.locator("figure.chart canvas").count() == 2
    assert int(page.locator("figure.chart").first.get_attribute("data-total") or 0) > 0
    routes = browser.numbers("data-route", "data-requests")
    assert routes.get("POST /v1/tasks", 0) >= len(SAMPLE_FORMS), routes
    p95 = page.locator('tr[data-route="POST /v1/tasks"] td').nth(4).inner_text()
    assert float(p95) > 0
    assert int(page.locator("[data-kpi=dau] b").inner_text()) >= 1


def test_a_dead_letter_is_redriven_and_the_cache_invalidated(browser: Browser) -> None:
    page = browser.page
    # GIVEN a dead letter in the finalize queue's dead letters
    empty_queue(QUEUE)
    message_id = dead_letter(QUEUE, {"task_id": "tsk_console", "step": "finalize"})
    browser.view("queues")
    assert browser.numbers("data-queue", "data-count")[QUEUE] == 1
    assert browser.numbers("data-depth", "data-dead")[QUEUE] == 1  # the port's depth
    assert len(browser.numbers("data-depth", "data-waiting")) == 4  # every step queue
    browser.shot("queues")

    # WHEN the admin presses its redrive button
    page.click(f"button[data-redrive={QUEUE}]")
    page.wait_for_selector("#note")
    browser.wait("queues")

    # THEN the console shows it moved and the dead letters are empty, the message back in
    # its queue
    assert f"{QUEUE} × 1" in page.locator("#note").inner_text()
    assert browser.numbers("data-queue", "data-count")[QUEUE] == 0
    assert browser.numbers("data-depth", "data-dead")[QUEUE] == 0
    assert browser.numbers("data-depth", "data-waiting")[QUEUE] == 1  # back in its queue
    assert get_queue().list_dead(QUEUE) == []
    assert [d.message.id for d in get_queue().receive(QUEUE, wait_s=1)] == [message_id]

    # WHEN the cache invalidation button is pressed
    page.click("#invalidate")
    page.locator("#note", has_text="Cache invalidated").wait_for(timeout=30_000)

    # THEN both actions are in the audit log
    browser.view("audit")
    actions = page.locator("tr[data-action]")
    seen = {actions.nth(i).get_attribute("data-action") for i in range(actions.count())}
    assert {"queue.redrive", "cache.invalidate"} <= seen
    browser.shot("audit")


def test_the_providers_the_alert_and_a_tasks_steps_are_shown(browser: Browser) -> None:
    page = browser.page
    rule = firing_alert()
    browser.view("providers")
    assert page.locator("tr[data-provider]").count() >= 1
    browser.shot("providers")

    browser.view("alerts")
    assert page.locator(f'tr[data-alert="{rule}"][data-status=firing]').count() == 1
    browser.shot("alerts")

    # WHEN a task of the list is opened
    browser.view("tasks")
    first = page.locator("tr[data-task]").first
    task_id = first.get_attribute("data-task")
    first.locator("a").click()
    page.wait_for_selector(f'dl.task[data-task="{task_id}"]')
    browser.wait("tasks")
    assert "succeeded" in page.locator("dl.task").inner_text()
    assert "HTMLElement" not in page.locator("#view").inner_text()

    # THEN its steps are listed with the provider that ran them
    steps = page.locator("tr[data-step]")
    assert steps.count() >= 3
    assert "local" in page.locator("table").last.inner_text()
    # the generate step's provider attempts: the vendors the chain skipped, then local
    assert "(UNAVAILABLE)" in page.locator('tr[data-step="generate"]').inner_text()
    browser.shot("task")


def test_an_admin_edits_a_threshold_and_it_is_kept(browser: Browser) -> None:
    page = browser.page
    browser.view("alerts")
    version = int(page.locator("h2[data-version]").get_attribute("data-version") or "0")
    row = page.locator("tr[data-rule]").first
    key = row.get_attribute("data-rule") or ""
    before = float(row.get_attribute("data-threshold-value") or "0")
    edited = 0.5 if before == 1 else 1  # the seed's first rule is a rate: both are in range

    # WHEN the admin types a new threshold for the first rule and saves
    page.fill(f'input[data-threshold="{key}"]', str(edited))
    page.click("#save-rules")
    page.wait_for_selector("#note")
    browser.wait("alerts")

    # THEN the next version is in force with that threshold, in the view and in the database
    assert f"v{version + 1}" in page.locator("#note").inner_text()
    shown = page.locator(f'tr[data-rule="{key}"]').get_attribute("data-threshold-value")
    assert float(shown or "0") == edited
    stored_version, rules = current_rules(get_database())
    assert stored_version == version + 1
    assert rules.by_key()[key].threshold == edited
    browser.shot("alert-rules")


def test_an_expired_access_token_is_refreshed_and_no_token_is_stored(
    browser: Browser, console_stack: ConsoleStack
) -> None:
    page = browser.page
    expired = {"type": "about:blank", "title": "Token expired", "status": 401}

    def token_expired(route: Route) -> None:
        route.fulfill(
            status=401,
            content_type="application/problem+json",
            body=json.dumps({**expired, "code": "TOKEN_EXPIRED"}),
        )

    # GIVEN the API answers the next providers call as to an expired access token
    page.route(f"{console_stack.url}/v1/admin/providers/health", token_expired, times=1)
    browser.requests.clear()

    # WHEN the providers view is opened
    browser.view("providers")

    # THEN the page spent its refresh token once and the retried call filled the view
    refreshes = [url for url in browser.requests if url.endswith("/v1/auth/refresh")]
    assert len(refreshes) == 1
    assert page.locator("tr[data-provider]").count() >= 1
    assert page.locator("#problem").is_hidden()
    # and neither token was ever written to the browser's storage
    assert page.evaluate("() => [localStorage.length, sessionStorage.length]") == [0, 0]
    assert page.context.cookies() == []


def test_the_texts_switch_to_chinese_and_a_bad_lookup_shows_the_problem(
    browser: Browser,
) -> None:
    page = browser.page
    browser.view("tasks")
    page.fill("#task-query", "tsk_AAAAAAAAAAAAAAAAAAAAAA")
    page.click("form button[type=submit]")
    page.wait_for_selector("#problem:not([hidden])")
    assert page.locator("#problem").inner_text().strip()

    page.click("#language")
    browser.wait("tasks")
    browser.view("overview")

    assert page.locator("nav a[data-view=overview]").inner_text() == "概览"
    assert "各功能任务" in page.locator("#view").inner_text()
    browser.shot("overview-zh")


def test_nothing_left_the_stack_and_no_policy_was_broken(browser: Browser) -> None:
    assert browser.refused == []
    # the browser logs the wrong password's and the faked 401 and the unknown task's 404;
    # nothing else may be an error
    expected = ("status of 401 (Unauthorized)", "status of 404 (Not Found)")
    assert [error for error in browser.errors if not error.endswith(expected)] == []
