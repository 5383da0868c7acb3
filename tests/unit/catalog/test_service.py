"""Catalog use cases: the seed load, reads, and versioned form and pipeline writes."""

from __future__ import annotations

from typing import Any

import pytest

from retouch.catalog.errors import ConfigInvalid, FeatureNotFound, VersionNotFound
from retouch.catalog.repository import FormRepository, PipelineRepository
from retouch.catalog.schemas import ProviderWrite
from retouch.catalog.service import (
    add_form_version,
    add_pipeline_version,
    get_feature,
    get_form,
    get_pipeline,
    list_features,
    list_providers,
    load_catalog,
    save_provider,
)
from retouch.core.units import Transaction
from tests.catalog_support import load_seed_catalog, seed_feature
from tests.fakes.catalog import FakeFormRepository, FakePipelineRepository, catalog_database
from tests.fakes.units import InMemoryDatabase
from tests.unit.catalog.conftest import FORM, STEPS

SEED_KEYS = ["cutout", "eraser", "faceswap", "outfit", "outpaint"]


def version_count(database: InMemoryDatabase) -> int:
    forms, pipelines = database.fakes[FormRepository], database.fakes[PipelineRepository]
    assert isinstance(forms, FakeFormRepository)
    assert isinstance(pipelines, FakePipelineRepository)
    return len(forms.documents) + len(pipelines.documents)


def test_the_seed_load_makes_version_1_current_for_every_feature(
    database: InMemoryDatabase,
) -> None:
    features = list_features(database=database)

    assert [feature.key for feature in features] == SEED_KEYS
    assert {(f.form_version, f.pipeline_version) for f in features} == {(1, 1)}
    assert get_form(database=database, feature_key="cutout", version=1).json_schema == (
        seed_feature("cutout").form
    )


def test_loading_the_seed_twice_changes_nothing(database: InMemoryDatabase) -> None:
    before = (list_features(database=database), version_count(database))

    count = load_catalog(database=database, seed=load_seed_catalog())

    assert count == 5
    assert (list_features(database=database), version_count(database)) == before


def test_a_reload_keeps_an_operators_switch_to_another_version(
    database: InMemoryDatabase,
) -> None:
    add_form_version(
        database=database, feature_key="cutout", json_schema=FORM, created_by=1, make_current=True
    )

    load_catalog(database=database, seed=load_seed_catalog())

    assert get_feature(database=database, key="cutout").form_version == 2


@pytest.mark.parametrize(
    ("provider_change", "field"),
    [
        ({"credential_ref": "sk-live-1234567890"}, "credential_ref"),
        ({"endpoint": "not a url"}, "endpoint"),
    ],
)
def test_a_seed_with_one_bad_provider_stores_nothing(
    provider_change: dict[str, Any], field: str
) -> None:
    seed = load_seed_catalog()
    bad = seed.providers[0].model_copy(update=provider_change)
    seed = seed.model_copy(update={"providers": [bad, *seed.providers[1:]]})
    database = catalog_database()

    with pytest.raises(ConfigInvalid) as refused:
        load_catalog(database=database, seed=seed)

    assert field in {error.field for error in refused.value.errors}
    assert list_features(database=database, enabled_only=False) == []
    assert list_providers(database=database) == []


def test_a_seed_pipeline_naming_an_unknown_provider_stores_nothing() -> None:
    seed = load_seed_catalog()
    seed = seed.model_copy(update={"providers": seed.providers[1:]})  # no runninghub
    database = catalog_database()

    with pytest.raises(ConfigInvalid):
        load_catalog(database=database, seed=seed)

    assert list_features(database=database, enabled_only=False) == []


def test_an_unknown_feature_is_not_found(database: InMemoryDatabase) -> None:
    with pytest.raises(FeatureNotFound):
        get_feature(database=database, key="nope")


@pytest.mark.parametrize("read", [get_form, get_pipeline])
def test_an_unknown_version_is_not_found(database: InMemoryDatabase, read: Any) -> None:
    with pytest.raises(VersionNotFound):
        read(database=database, feature_key="cutout", version=2)


def test_a_new_form_version_takes_the_next_number_and_leaves_the_current_one(
    database: InMemoryDatabase,
) -> None:
    stored = add_form_version(
        database=database, feature_key="cutout", json_schema=FORM, created_by=9
    )

    assert (stored.version, stored.json_schema, stored.created_by) == (2, FORM, 9)
    assert get_feature(database=database, key="cutout").form_version == 1


def test_a_new_version_can_become_current(database: InMemoryDatabase) -> None:
    add_form_version(database=database, feature_key="eraser", json_schema=FORM, created_by=9)

    stored = add_form_version(
        database=database, feature_key="eraser", json_schema=FORM, created_by=9, make_current=True
    )

    assert stored.version == 3
    assert get_feature(database=database, key="eraser").form_version == 3


def test_versions_are_numbered_per_feature(database: InMemoryDatabase) -> None:
    add_form_version(database=database, feature_key="cutout", json_schema=FORM, created_by=1)

    other = add_form_version(
        database=database, feature_key="eraser", json_schema=FORM, created_by=1
    )

    assert other.version == 2


def test_old_versions_stay_readable(database: InMemoryDatabase) -> None:
    add_form_version(
        database=database, feature_key="cutout", json_schema=FORM, created_by=1, make_current=True
    )

    old = get_form(database=database, feature_key="cutout", version=1)

    assert old.json_schema == seed_feature("cutout").form


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array"},
        {**FORM, "additionalProperties": True},
        {**FORM, "properties": {}},
        "not a schema",
    ],
    ids=["not-an-object", "open", "no-fields", "a-string"],
)
def test_an_invalid_form_is_refused_and_stores_nothing(
    database: InMemoryDatabase, schema: Any
) -> None:
    count = version_count(database)

    with pytest.raises(ConfigInvalid):
        add_form_version(database=database, feature_key="cutout", json_schema=schema, created_by=1)

    assert version_count(database) == count


def test_a_version_of_an_unknown_feature_is_refused(database: InMemoryDatabase) -> None:
    count = version_count(database)

    with pytest.raises(FeatureNotFound):
        add_form_version(database=database, feature_key="nope", json_schema=FORM, created_by=1)

    assert version_count(database) == count


def test_the_hook_sees_the_new_version_inside_the_transaction(
    database: InMemoryDatabase,
) -> None:
    seen: list[int] = []

    def hook(uow: Transaction, version: int) -> None:
        seen.append(version)

    add_pipeline_version(
        database=database, feature_key="cutout", steps=STEPS, created_by=1, on_added=hook
    )

    assert seen == [2]


def test_a_failing_hook_stores_nothing(database: InMemoryDatabase) -> None:
    count = version_count(database)

    def hook(uow: Transaction, version: int) -> None:
        raise RuntimeError("the audit row could not be written")

    with pytest.raises(RuntimeError):
        add_form_version(
            database=database,
            feature_key="cutout",
            json_schema=FORM,
            created_by=1,
            make_current=True,
            on_added=hook,
        )

    assert version_count(database) == count
    assert get_feature(database=database, key="cutout").form_version == 1


def test_a_pipeline_version_stores_its_steps_without_empty_settings(
    database: InMemoryDatabase,
) -> None:
    stored = add_pipeline_version(
        database=database, feature_key="cutout", steps=STEPS, created_by=1, make_current=True
    )

    assert [step.model_dump(exclude_none=True) for step in stored.steps] == STEPS
    assert get_feature(database=database, key="cutout").pipeline_version == 2


@pytest.mark.parametrize(
    "steps",
    [
        [{"step": "prepare"}, {"step": "generate", "providers": ["nowhere"]}, {"step": "store"}],
        [{"step": "prepare"}, {"step": "store"}],
        [{"step": "generate", "providers": ["local"]}, {"step": "prepare"}, {"step": "store"}],
        [{"step": "prepare"}, {"step": "paint", "providers": ["local"]}, {"step": "store"}],
    ],
    ids=["unknown-provider", "no-generate", "out-of-order", "unknown-step"],
)
def test_an_invalid_pipeline_is_refused_and_stores_nothing(
    database: InMemoryDatabase, steps: list[dict[str, Any]]
) -> None:
    count = version_count(database)

    with pytest.raises(ConfigInvalid):
        add_pipeline_version(database=database, feature_key="cutout", steps=steps, created_by=1)

    assert version_count(database) == count


def test_a_provider_config_is_saved_and_listed_by_key(database: InMemoryDatabase) -> None:
    provider = ProviderWrite(
        key="aaa_vendor",
        kind="local",
        concurrency_limit=3,
        credential_ref="env:RETOUCH_SECRET_AAA_VENDOR",
    )

    save_provider(database=database, provider=provider)

    keys = [found.key for found in list_providers(database=database)]
    assert keys[0] == "aaa_vendor"
    assert keys == sorted(keys)


def test_a_provider_holding_a_raw_secret_is_refused(database: InMemoryDatabase) -> None:
    provider = ProviderWrite(
        key="leaky", kind="local", concurrency_limit=3, credential_ref="AKIDz8krbsJ5yKBZQpn74WFk"
    )

    with pytest.raises(ConfigInvalid):
        save_provider(database=database, provider=provider)

    assert "leaky" not in {found.key for found in list_providers(database=database)}
