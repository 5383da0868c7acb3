"""GET /v1/features and /v1/features/{key} through the catalog function on the real MariaDB
and Redis: the seeded features in both languages, ETag/304, 404s, disabled features hidden."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retouch.cache import get_cache
from retouch.catalog import public
from retouch.catalog.public import CACHE_NAMESPACE
from retouch.catalog.service import get_feature, get_form
from retouch.core.db import get_database
from tests.catalog_support import load_seed_catalog
from tests.conftest import Stack
from tests.integration.catalog_api_support import catalog_app, fresh_feature
from tests.integration.identity_support import new_client_ip

pytestmark = pytest.mark.integration

SEEDED = ["cutout", "eraser", "faceswap", "outfit", "outpaint"]


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    # Other modules change the catalog through the service, which does not invalidate.
    get_cache().invalidate(CACHE_NAMESPACE)
    app = catalog_app()
    with TestClient(app, client=(new_client_ip(), 50000), raise_server_exceptions=False) as c:
        yield c


def items_by_key(client: TestClient, language: str) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/features", headers={"Accept-Language": language})
    assert response.status_code == 200, response.text
    return {item["key"]: item for item in response.json()["items"]}


def test_lists_the_five_seeded_features_in_english_and_chinese(client: TestClient) -> None:
    # GIVEN the seed and the stored catalog
    seed = {feature.key: feature for feature in load_seed_catalog().features}

    # WHEN a client asks in English, then in Chinese
    english, chinese = items_by_key(client, "en-US,en;q=0.9"), items_by_key(client, "zh-CN")

    # THEN each seeded feature is there with its name and description in that language,
    # its current cost and its current form
    assert set(SEEDED) <= set(english) and set(SEEDED) <= set(chinese)
    database = get_database()
    for key in SEEDED:
        stored = get_feature(database=database, key=key)
        assert stored.form_version is not None
        form = get_form(database=database, feature_key=key, version=stored.form_version)
        assert english[key]["name"] == seed[key].name_en
        assert english[key]["description"] == seed[key].description_en
        assert chinese[key]["name"] == seed[key].name_zh
        assert chinese[key]["description"] == seed[key].description_zh
        for item in (english[key], chinese[key]):
            assert set(item) == {"key", "name", "description", "cost", "form_schema", "enabled"}
            assert item["cost"] == stored.cost
            assert item["form_schema"] == form.json_schema
            assert item["enabled"] is True


def test_defaults_to_chinese_without_accept_language(client: TestClient) -> None:
    response = client.get("/v1/features/cutout")

    assert response.status_code == 200
    assert response.json()["name"] == load_seed_catalog().features[0].name_zh
    assert response.headers["content-language"] == "zh-CN"


def test_one_feature_is_served_in_the_clients_language(client: TestClient) -> None:
    response = client.get("/v1/features/eraser", headers={"Accept-Language": "en"})

    assert response.status_code == 200
    body = response.json()
    assert body["key"] == "eraser"
    assert (
        body["name"] == next(f for f in load_seed_catalog().features if f.key == "eraser").name_en
    )
    assert "mask" in body["form_schema"]["properties"]


@pytest.mark.parametrize("path", ["/v1/features", "/v1/features/outfit"])
def test_a_current_etag_gets_304_without_a_body(client: TestClient, path: str) -> None:
    # GIVEN a first answer with its strong ETag
    first = client.get(path, headers={"Accept-Language": "en"})
    etag = first.headers["etag"]
    assert first.status_code == 200
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"].startswith("public, max-age=")

    # WHEN the client revalidates with that tag (alone, or in a list)
    again = client.get(path, headers={"Accept-Language": "en", "If-None-Match": etag})
    listed = client.get(path, headers={"Accept-Language": "en", "If-None-Match": f'"x", {etag}'})

    # THEN 304 with the same tag and no body
    for response in (again, listed):
        assert response.status_code == 304
        assert response.headers["etag"] == etag
        assert response.content == b""


def test_a_stale_or_other_language_etag_gets_the_full_body(client: TestClient) -> None:
    english = client.get("/v1/features", headers={"Accept-Language": "en"})

    stale = client.get("/v1/features", headers={"Accept-Language": "en", "If-None-Match": '"0"'})
    chinese = client.get(
        "/v1/features",
        headers={"Accept-Language": "zh-CN", "If-None-Match": english.headers["etag"]},
    )

    assert stale.status_code == 200 and stale.json() == english.json()
    assert chinese.status_code == 200
    assert chinese.headers["etag"] != english.headers["etag"]


def test_an_unknown_key_is_404_not_found(client: TestClient) -> None:
    response = client.get("/v1/features/no_such_feature", headers={"Accept-Language": "en"})

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("key", ["Cutout", "a", "cut-out", "x" * 40, "cutout%20", "%2e%2e"])
def test_a_malformed_key_is_404_before_any_lookup(
    client: TestClient, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a catalog whose database reads would fail the test
    def no_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("looked up a malformed key")

    monkeypatch.setattr(public, "_load_one", no_lookup)
    monkeypatch.setattr(public, "get_cache", no_lookup)

    # WHEN a client asks for a malformed key THEN 404, and nothing was looked up
    response = client.get(f"/v1/features/{key}")

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_a_disabled_feature_is_neither_listed_nor_served(client: TestClient) -> None:
    key = fresh_feature(enabled=False)

    assert key not in items_by_key(client, "en")
    assert client.get(f"/v1/features/{key}").status_code == 404
