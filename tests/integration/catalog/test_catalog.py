"""The catalog on the real MariaDB: seed loading, reads, versioned writes that validate first."""

from __future__ import annotations

import copy
import secrets
from typing import Any

import pytest

from retouch.catalog.errors import ConfigInvalid, FeatureNotFound, InputsInvalid, VersionNotFound
from retouch.catalog.forms import validate_inputs
from retouch.catalog.schemas import CatalogSeed, FeatureSeed, ProviderWrite
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
from retouch.core.db import Database, get_database
from scripts.local.migrate import load_seed
from tests.catalog_support import load_seed_catalog, seed_feature
from tests.conftest import Stack

pytestmark = pytest.mark.integration

SEEDED = ["cutout", "eraser", "faceswap", "outfit", "outpaint"]


@pytest.fixture
def database(stack: Stack) -> Database:
    return get_database()


def snapshot(database: Database) -> dict[str, list[dict[str, Any]]]:
    """Every catalog row (timestamps included) that the seed is responsible for."""
    with database.read_only() as uow:
        return {
            "features": uow.fetch_all(
                "SELECT * FROM feature_definitions WHERE feature_key IN %s ORDER BY feature_key",
                (SEEDED,),
            ),
            "forms": uow.fetch_all(
                "SELECT * FROM form_schemas WHERE feature_key IN %s ORDER BY id", (SEEDED,)
            ),
            "pipelines": uow.fetch_all(
                "SELECT * FROM pipeline_schemas WHERE feature_key IN %s ORDER BY id", (SEEDED,)
            ),
            "providers": uow.fetch_all("SELECT * FROM provider_configs ORDER BY id"),
        }


def counts(database: Database, key: str) -> tuple[int, int]:
    with database.read_only() as uow:
        forms = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM form_schemas WHERE feature_key = %s", (key,)
        )
        pipes = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM pipeline_schemas WHERE feature_key = %s", (key,)
        )
    assert forms is not None and pipes is not None
    return int(forms["n"]), int(pipes["n"])


def probe_seed(key: str, *, form: dict[str, Any] | None = None) -> CatalogSeed:
    """The seed catalog with one extra feature of our own, so a test owns its rows."""
    seed = load_seed_catalog()
    base = seed_feature("eraser")
    probe = FeatureSeed.model_validate({**base.model_dump(), "key": key, "form": form or base.form})
    return CatalogSeed(providers=seed.providers, features=[probe])


@pytest.fixture
def probe_key(database: Database) -> str:
    key = f"probe_{secrets.token_hex(4)}"
    load_catalog(database=database, seed=probe_seed(key))
    return key


def test_the_seed_defines_the_five_features_at_version_one(database: Database) -> None:
    features = list_features(database=database)

    assert [f.key for f in features if f.key in SEEDED] == SEEDED
    for feature in features:
        if feature.key in SEEDED:
            assert (feature.form_version, feature.pipeline_version) == (1, 1)
            form = get_form(database=database, feature_key=feature.key, version=1)
            assert form.json_schema == seed_feature(feature.key).form
            pipeline = get_pipeline(database=database, feature_key=feature.key, version=1)
            assert pipeline.steps[-1].step == "store"
            assert next(s.providers for s in pipeline.steps if s.providers)[-1] == "local"


def test_loading_the_seed_twice_changes_nothing(database: Database) -> None:
    before = snapshot(database)

    load_seed()
    load_seed()

    assert snapshot(database) == before


def test_providers_are_stored_with_references_only(database: Database) -> None:
    providers = {p.key: p for p in list_providers(database=database)}

    assert set(providers) >= {"runninghub", "hunyuan", "tencent", "local", "simulator"}
    # Each provider names its own secret; none is shared.
    assert providers["runninghub"].credential_ref == "secretsmanager:retouch/providers/runninghub"
    assert providers["tencent"].credential_ref == "secretsmanager:retouch/providers/tencent"
    assert providers["hunyuan"].credential_ref == "secretsmanager:retouch/providers/hunyuan"
    assert providers["local"].credential_ref is None


def test_unknown_feature_and_version_are_not_found(database: Database) -> None:
    with pytest.raises(FeatureNotFound):
        get_feature(database=database, key="teleport")
    with pytest.raises(VersionNotFound):
        get_form(database=database, feature_key="cutout", version=99)
    with pytest.raises(VersionNotFound):
        get_pipeline(database=database, feature_key="cutout", version=99)


def test_a_disabled_feature_is_listed_only_on_request(database: Database, probe_key: str) -> None:
    seed = probe_seed(probe_key)
    disabled = seed.features[0].model_copy(update={"enabled": False})
    load_catalog(database=database, seed=CatalogSeed(providers=seed.providers, features=[disabled]))

    assert probe_key not in [f.key for f in list_features(database=database)]
    assert probe_key in [f.key for f in list_features(database=database, enabled_only=False)]
    assert get_feature(database=database, key=probe_key).enabled is False


def test_a_new_form_version_keeps_the_old_one_readable(database: Database, probe_key: str) -> None:
    old = get_form(database=database, feature_key=probe_key, version=1)
    schema = copy.deepcopy(old.json_schema)
    schema["properties"]["dilate"]["maximum"] = 128

    added = add_form_version(
        database=database,
        feature_key=probe_key,
        json_schema=schema,
        created_by=7,
        make_current=True,
    )

    assert (added.version, added.created_by) == (2, 7)
    assert get_feature(database=database, key=probe_key).form_version == 2
    assert get_form(database=database, feature_key=probe_key, version=1) == old


def test_an_invalid_form_stores_nothing(database: Database, probe_key: str) -> None:
    schema = copy.deepcopy(seed_feature("eraser").form)
    schema["properties"]["mask"] = {"$ref": "https://evil.example/s.json"}

    with pytest.raises(ConfigInvalid) as caught:
        add_form_version(
            database=database,
            feature_key=probe_key,
            json_schema=schema,
            created_by=1,
            make_current=True,
        )

    assert "json_schema.properties.mask.$ref" in [e.field for e in caught.value.errors]
    assert counts(database, probe_key) == (1, 1)
    assert get_feature(database=database, key=probe_key).form_version == 1


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([{"step": "generate", "providers": ["nobody", "local"]}], "steps[0].providers[0]"),
        ([{"step": "paint"}, {"step": "generate", "providers": ["local"]}], "steps[0].step"),
    ],
)
def test_a_pipeline_naming_unknown_steps_or_providers_stores_nothing(
    database: Database, probe_key: str, steps: list[dict[str, Any]], field: str
) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        add_pipeline_version(
            database=database,
            feature_key=probe_key,
            steps=steps,
            created_by=1,
            make_current=True,
        )

    assert [e.field for e in caught.value.errors] == [field]
    assert counts(database, probe_key) == (1, 1)


def test_a_valid_pipeline_version_is_added(database: Database, probe_key: str) -> None:
    steps = [{"step": "generate", "providers": ["hunyuan", "local"], "timeout_s": 30}]

    added = add_pipeline_version(
        database=database, feature_key=probe_key, steps=steps, created_by=None
    )

    assert added.version == 2
    assert added.steps[0].providers == ["hunyuan", "local"]
    assert get_feature(database=database, key=probe_key).pipeline_version == 1  # not switched


def test_a_provider_holding_a_raw_secret_stores_nothing(database: Database) -> None:
    key = f"rh_{secrets.token_hex(4)}"
    provider = ProviderWrite(
        key=key, kind="runninghub", credential_ref="sk-live-0123456789abcdef", concurrency_limit=2
    )

    with pytest.raises(ConfigInvalid):
        save_provider(database=database, provider=provider)

    assert key not in [p.key for p in list_providers(database=database)]


def test_a_provider_with_a_reference_is_saved(database: Database) -> None:
    key = f"rh_{secrets.token_hex(4)}"
    reference = f"env:RETOUCH_SECRET_{key.upper()}"
    provider = ProviderWrite(
        key=key, kind="runninghub", credential_ref=reference, concurrency_limit=2
    )

    save_provider(database=database, provider=provider)

    saved = {p.key: p for p in list_providers(database=database)}[key]
    assert saved.credential_ref == reference


def test_a_changed_seed_form_becomes_a_new_current_version(
    database: Database, probe_key: str
) -> None:
    changed = copy.deepcopy(seed_feature("eraser").form)
    changed["properties"]["dilate"]["maximum"] = 32

    load_catalog(database=database, seed=probe_seed(probe_key, form=changed))
    load_catalog(database=database, seed=probe_seed(probe_key, form=changed))

    assert counts(database, probe_key) == (2, 1)
    assert get_feature(database=database, key=probe_key).form_version == 2


def test_reloading_the_seed_keeps_an_operators_switch(database: Database, probe_key: str) -> None:
    schema = copy.deepcopy(seed_feature("eraser").form)
    schema["required"] = ["image"]
    add_form_version(
        database=database,
        feature_key=probe_key,
        json_schema=schema,
        created_by=3,
        make_current=True,
    )

    load_catalog(database=database, seed=probe_seed(probe_key))

    assert get_feature(database=database, key=probe_key).form_version == 2
    assert counts(database, probe_key) == (2, 1)


def test_an_invalid_seed_stores_nothing(database: Database) -> None:
    key = f"probe_{secrets.token_hex(4)}"
    seed = probe_seed(key)
    broken = seed.features[0].model_copy(update={"pipeline": [{"step": "teleport"}]})

    with pytest.raises(ConfigInvalid):
        load_catalog(
            database=database, seed=CatalogSeed(providers=seed.providers, features=[broken])
        )

    assert key not in [f.key for f in list_features(database=database, enabled_only=False)]


def test_inputs_are_validated_against_the_stored_form(database: Database) -> None:
    form = get_form(database=database, feature_key="eraser", version=1)

    with pytest.raises(InputsInvalid) as caught:
        validate_inputs(form=form, inputs={"image": "upl_x"}, language="zh-CN")

    assert {e.field: e.type for e in caught.value.errors} == {
        "inputs.image": "string_pattern_mismatch",
        "inputs.mask": "missing",
    }
