"""Operators' catalog writes: each is audited in its transaction and retires the cache after
its commit; a refused write stores, audits and retires nothing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from retouch.catalog import admin
from retouch.catalog.admin_schemas import FeaturePatch, FormCreate, PipelineCreate, ProviderPut
from retouch.catalog.errors import (
    ConfigInvalid,
    FeatureNotFound,
    NoPreviousVersion,
    VersionNotFound,
)
from retouch.catalog.public import CACHE_NAMESPACE
from retouch.catalog.service import get_feature, list_features, list_providers
from tests.fakes.identity import principal
from tests.fakes.units import InMemoryDatabase
from tests.unit.catalog.conftest import FORM, STEPS, RecordingCache, audit_of

NOW = datetime(2030, 5, 10, tzinfo=timezone.utc)
OPERATOR = principal(42, role="admin")


def update(database: InMemoryDatabase, key: str = "cutout", /, **patch: object) -> object:
    return admin.update_feature(
        database=database,
        actor=OPERATOR,
        feature_key=key,
        patch=FeaturePatch.model_validate(patch),
        request_id="req-1",
    )


def add_form(database: InMemoryDatabase, *, make_current: bool) -> int:
    stored = admin.add_form(
        database=database,
        actor=OPERATOR,
        feature_key="cutout",
        form=FormCreate(json_schema=FORM, make_current=make_current),
        request_id="req-1",
        language="en",
    )
    return stored.version


def test_disabling_a_feature_hides_it_from_clients(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    update(database, enabled=False)

    assert "cutout" not in [feature.key for feature in list_features(database=database)]
    assert get_feature(database=database, key="cutout").enabled is False
    assert cache.invalidated == [CACHE_NAMESPACE]


def test_enabling_a_feature_again_shows_it(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    update(database, enabled=False)

    update(database, enabled=True)

    assert "cutout" in [feature.key for feature in list_features(database=database)]


def test_a_feature_update_is_audited_with_before_and_after(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    update(database, cost=9)

    (entry,) = audit_of(database).entries
    assert (entry.actor_user_id, entry.action, entry.target_id, entry.request_id) == (
        42,
        "feature.update",
        "cutout",
        "req-1",
    )
    assert entry.before is not None and entry.before["cost"] == 4
    assert entry.after is not None and entry.after["cost"] == 9


def test_a_patch_changes_only_what_it_names(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    update(database, cost=9)

    feature = get_feature(database=database, key="cutout")
    assert (feature.cost, feature.enabled, feature.form_version) == (9, True, 1)


def test_switching_to_a_stored_version_makes_it_current(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    add_form(database, make_current=False)

    update(database, form_version=2)

    assert get_feature(database=database, key="cutout").form_version == 2


@pytest.mark.parametrize("field", ["form_version", "pipeline_version"])
def test_switching_to_a_missing_version_changes_nothing(
    database: InMemoryDatabase, cache: RecordingCache, field: str
) -> None:
    with pytest.raises(VersionNotFound):
        update(database, cost=99, **{field: 7})

    feature = get_feature(database=database, key="cutout")
    assert (feature.cost, feature.form_version, feature.pipeline_version) == (4, 1, 1)
    assert (audit_of(database).entries, cache.invalidated) == ([], [])


def test_updating_an_unknown_feature_is_not_found(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    with pytest.raises(FeatureNotFound):
        update(database, "nope", cost=1)

    assert cache.invalidated == []


def test_rolling_back_makes_the_previous_version_current(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    add_form(database, make_current=True)

    after = admin.roll_back(
        database=database, actor=OPERATOR, feature_key="cutout", kind="form", request_id=None
    )

    assert after.form_version == 1
    assert audit_of(database).entries[-1].action == "feature.rollback"


def test_rolling_back_skips_to_the_newest_version_below_the_current_one(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    add_form(database, make_current=False)  # 2
    add_form(database, make_current=True)  # 3

    after = admin.roll_back(
        database=database, actor=OPERATOR, feature_key="cutout", kind="form", request_id=None
    )

    assert after.form_version == 2


@pytest.mark.parametrize("kind", ["form", "pipeline"])
def test_there_is_no_rolling_back_from_the_first_version(
    database: InMemoryDatabase, cache: RecordingCache, kind: str
) -> None:
    with pytest.raises(NoPreviousVersion):
        admin.roll_back(
            database=database,
            actor=OPERATOR,
            feature_key="cutout",
            kind=kind,  # type: ignore[arg-type]
            request_id=None,
        )

    assert (audit_of(database).entries, cache.invalidated) == ([], [])


def test_adding_a_form_is_audited_with_its_version(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    version = add_form(database, make_current=True)

    (entry,) = audit_of(database).entries
    assert (entry.action, entry.after) == ("form.add", {"version": version, "made_current": True})
    assert cache.invalidated == [CACHE_NAMESPACE]


def test_adding_a_pipeline_lists_it_with_the_others(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    admin.add_pipeline(
        database=database,
        actor=OPERATOR,
        feature_key="cutout",
        pipeline=PipelineCreate(steps=STEPS),
        request_id=None,
        language="en",
    )

    versions = admin.list_pipelines(database=database, feature_key="cutout")
    assert [version.version for version in versions] == [1, 2]
    assert audit_of(database).entries[-1].action == "pipeline.add"


def test_a_refused_form_is_not_audited(database: InMemoryDatabase, cache: RecordingCache) -> None:
    with pytest.raises(ConfigInvalid):
        admin.add_form(
            database=database,
            actor=OPERATOR,
            feature_key="cutout",
            form=FormCreate(json_schema={"type": "array"}),
            request_id=None,
            language="zh",
        )

    assert (audit_of(database).entries, cache.invalidated) == ([], [])
    assert [form.version for form in admin.list_forms(database=database, feature_key="cutout")] == [
        1
    ]


def test_the_versions_of_an_unknown_feature_are_not_found(database: InMemoryDatabase) -> None:
    with pytest.raises(FeatureNotFound):
        admin.list_forms(database=database, feature_key="nope")


def save(database: InMemoryDatabase, key: str, **settings: object) -> object:
    return admin.save_provider(
        database=database,
        actor=OPERATOR,
        provider_key=key,
        settings=ProviderPut.model_validate({"kind": "local", "concurrency_limit": 2, **settings}),
        request_id=None,
        language="en",
    )


def test_a_new_provider_is_audited_without_a_before_state(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    save(database, "spare")

    (entry,) = audit_of(database).entries
    assert (entry.action, entry.target_type, entry.target_id, entry.before) == (
        "provider.save",
        "provider",
        "spare",
        None,
    )
    assert "spare" in {provider.key for provider in list_providers(database=database)}


def test_disabling_a_provider_records_its_state_before(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    save(database, "local", enabled=False)

    (entry,) = audit_of(database).entries
    assert entry.before is not None and entry.before["enabled"] is True
    assert entry.after is not None and entry.after["enabled"] is False


def test_a_provider_with_a_raw_secret_is_refused_and_not_audited(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    with pytest.raises(ConfigInvalid):
        save(database, "spare", credential_ref="sk-0123456789abcdef")

    assert (audit_of(database).entries, cache.invalidated) == ([], [])


def test_a_provider_naming_another_secret_is_refused_and_not_audited(
    database: InMemoryDatabase, cache: RecordingCache
) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        save(database, "spare", credential_ref="secretsmanager:retouch/jwt-keys")

    assert [(e.field, e.type) for e in caught.value.errors] == [
        ("credential_ref", "foreign_secret")
    ]
    assert (audit_of(database).entries, cache.invalidated) == ([], [])
