"""`scripts/demo` against the in-process local stack: the gateway of template.yaml with its
step consumers on the Redis Streams queue, the `local` provider (the seed's chains skip the
vendors without adapters), real MariaDB and Redis, a local storage."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from retouch.images.inspection import inspect_image
from retouch.providers.local.samples import SAMPLE_FORMS
from scripts.local.alert_sinks import MailSink
from scripts.local.demo import run_demo
from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template
from tests.conftest import Stack

pytestmark = pytest.mark.integration


class Sections(HTMLParser):
    """The page's feature sections: status and image sources by feature."""

    def __init__(self) -> None:
        super().__init__()
        self.status: dict[str, str] = {}
        self.images: dict[str, list[str]] = {}
        self._feature = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "section":
            self._feature = attributes["data-feature"] or ""
            self.status[self._feature] = attributes["data-status"] or ""
            self.images[self._feature] = []
        elif tag == "img":
            self.images[self._feature].append(attributes["src"] or "")


@pytest.fixture
def gateway(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_SIGNING_KEY", "s" * 40)
    with TestClient(create_gateway(load_template(), consumers=True)) as client:
        yield client


def test_the_demo_runs_all_five_features_and_writes_a_before_and_after_page(
    gateway: TestClient, tmp_path: Path, account_mail: MailSink
) -> None:
    # GIVEN the local stack with its step consumers running
    out = tmp_path / "demo"

    # WHEN the demo runs against it
    page = run_demo(
        gateway,
        out,
        timeout_s=120,
        poll_s=0.1,
        log=lambda _message: None,
        mail_dir=account_mail.folder or out,
    )

    # THEN the page shows the five features succeeded, each with its inputs and an output,
    # every image a real file beside the page
    parser = Sections()
    parser.feed(page.read_text())
    assert page == out / "index.html"
    assert parser.status == dict.fromkeys(SAMPLE_FORMS, "succeeded")
    for feature, form in SAMPLE_FORMS.items():
        sources = parser.images[feature]
        assert len(sources) == len(form) + 1, (feature, sources)
        for source in sources:
            assert "/" not in source
            header = inspect_image((out / source).read_bytes())
            assert header.width > 0 and header.height > 0
