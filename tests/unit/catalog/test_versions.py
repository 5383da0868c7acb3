"""The engine's catalog versions: read once per instance (a version is never updated), a
version not found looked for again, and the cache starting afresh past its size."""

from __future__ import annotations

from typing import cast

from retouch.catalog.repository import FeatureRepository, FormRepository, PipelineRepository
from retouch.catalog.schemas import FeatureWrite
from retouch.catalog.versions import Versions
from tests.fakes.catalog import FakeFormRepository, FakePipelineRepository, catalog_database
from tests.fakes.units import InMemoryDatabase

STEPS = [{"step": "prepare"}, {"step": "generate", "providers": ["local"]}, {"step": "store"}]
FORM = {"type": "object", "properties": {}}


def database_with_versions() -> tuple[InMemoryDatabase, FakePipelineRepository, FakeFormRepository]:
    database = catalog_database()
    with database.unit_of_work() as uow:
        uow.repository(FeatureRepository).upsert(
            FeatureWrite(
                key="cutout",
                name_zh="抠图",
                name_en="Cutout",
                description_zh="",
                description_en="",
                cost=4,
                allowed_plans=["free"],
            )
        )
        uow.repository(PipelineRepository).add(
            feature_key="cutout", document=STEPS, created_by=None
        )
        uow.repository(FormRepository).add(feature_key="cutout", document=FORM, created_by=None)
        uow.commit()
    pipelines = cast(FakePipelineRepository, database.fakes[PipelineRepository])
    forms = cast(FakeFormRepository, database.fakes[FormRepository])
    return database, pipelines, forms


def test_a_version_is_read_once_and_served_from_the_instance_after() -> None:
    database, pipelines, forms = database_with_versions()
    versions = Versions()
    with database.read_only() as uow:
        pipeline = versions.pipeline(uow, "cutout", 1)
        form = versions.form(uow, "cutout", 1)
    # the rows gone: only the instance's copy can answer now
    pipelines.documents.clear()
    forms.documents.clear()

    with database.read_only() as uow:
        assert versions.pipeline(uow, "cutout", 1) is pipeline
        assert versions.form(uow, "cutout", 1) is form
    assert pipeline is not None and [step.step for step in pipeline.steps] == [
        "prepare",
        "generate",
        "store",
    ]


def test_a_version_not_found_is_looked_for_again() -> None:
    database, _, _ = database_with_versions()
    versions = Versions()
    with database.unit_of_work() as uow:
        assert versions.pipeline(uow, "cutout", 2) is None
        uow.repository(PipelineRepository).add(feature_key="cutout", document=STEPS, created_by=7)
        uow.commit()
        found = versions.pipeline(uow, "cutout", 2)

    assert found is not None and found.created_by == 7


def test_past_its_size_the_cache_starts_afresh() -> None:
    database, pipelines, _ = database_with_versions()
    versions = Versions(size=1)
    with database.unit_of_work() as uow:
        uow.repository(PipelineRepository).add(feature_key="cutout", document=STEPS, created_by=2)
        uow.commit()
        first = versions.pipeline(uow, "cutout", 1)
        versions.pipeline(uow, "cutout", 2)  # a second version: the first is forgotten
        pipelines.documents.pop(("cutout", 1))

        assert first is not None
        assert versions.pipeline(uow, "cutout", 1) is None
