"""In-memory features, form and pipeline versions and provider configs, keeping the rules of
the SQL (`retouch.catalog.repository`): versions numbered 1, 2, … per feature and never
changed, a version only for a feature that exists, upserts that leave a feature's current
versions alone."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from retouch.catalog.repository import (
    FeatureRepository,
    FormRepository,
    PipelineRepository,
    ProviderConfigRepository,
    VersionKind,
)
from retouch.catalog.schemas import (
    FeatureRead,
    FeatureWrite,
    FormSchema,
    PipelineSchema,
    ProviderRead,
    ProviderWrite,
)
from tests.fakes.tables import SharedTable, constraint_violated
from tests.fakes.units import InMemoryDatabase

#: When the fakes say rows were written (the SQL lets the server stamp them).
WRITTEN_AT = datetime(2030, 1, 1, tzinfo=timezone.utc)
#: A feature's own fields (a seed entry also carries its form and pipeline).
_WRITE_FIELDS = set(FeatureWrite.model_fields)


class FakeFeatureRepository(SharedTable):
    def __init__(self) -> None:
        self.features: dict[str, FeatureRead] = {}

    def upsert(self, feature: FeatureWrite) -> None:
        old = self.features.get(feature.key)
        self.features[feature.key] = FeatureRead(
            **feature.model_dump(include=_WRITE_FIELDS),
            form_version=None if old is None else old.form_version,
            pipeline_version=None if old is None else old.pipeline_version,
            updated_at=WRITTEN_AT,
        )

    def get(self, key: str, *, for_update: bool = False) -> FeatureRead | None:
        return self.features.get(key)

    def list(self, *, enabled_only: bool) -> list[FeatureRead]:
        return [
            self.features[key]
            for key in sorted(self.features)
            if self.features[key].enabled or not enabled_only
        ]

    def set_terms(self, key: str, *, cost: int, enabled: bool) -> None:
        self._update(key, cost=cost, enabled=enabled)

    def set_current(self, key: str, *, kind: VersionKind, version: int) -> None:
        self._update(key, **{f"{kind}_version": version})

    def _update(self, key: str, **changes: Any) -> None:
        feature = self.features.get(key)
        if feature is not None:  # an UPDATE that matches no row
            self.features[key] = feature.model_copy(update=changes)


class _FakeVersions:
    _foreign_key: str

    def __init__(self, features: FakeFeatureRepository) -> None:
        self.features = features
        #: (feature_key, version) → (document, created_by)
        self.documents: dict[tuple[str, int], tuple[Any, int | None]] = {}

    def add(self, *, feature_key: str, document: Any, created_by: int | None) -> int:
        if feature_key not in self.features.features:
            raise constraint_violated(self._foreign_key)
        version = 1 + max((v for key, v in self.documents if key == feature_key), default=0)
        self.documents[(feature_key, version)] = (document, created_by)
        return version

    def versions(self, feature_key: str) -> list[tuple[int, Any]]:
        return sorted(
            (version, document)
            for (key, version), (document, _) in self.documents.items()
            if key == feature_key
        )


class FakeFormRepository(_FakeVersions):
    _foreign_key = "fk_form_schemas_feature"

    def get(self, feature_key: str, version: int) -> FormSchema | None:
        found = self.documents.get((feature_key, version))
        if found is None:
            return None
        return FormSchema(
            feature_key=feature_key,
            version=version,
            json_schema=found[0],
            created_at=WRITTEN_AT,
            created_by=found[1],
        )


class FakePipelineRepository(_FakeVersions):
    _foreign_key = "fk_pipeline_schemas_feature"

    def get(self, feature_key: str, version: int) -> PipelineSchema | None:
        found = self.documents.get((feature_key, version))
        if found is None:
            return None
        return PipelineSchema.model_validate(
            {
                "feature_key": feature_key,
                "version": version,
                "steps": found[0],
                "created_at": WRITTEN_AT,
                "created_by": found[1],
            }
        )


class FakeProviderConfigRepository:
    def __init__(self) -> None:
        self.providers: dict[str, ProviderRead] = {}

    def upsert(self, provider: ProviderWrite) -> None:
        self.providers[provider.key] = ProviderRead(**provider.model_dump(), updated_at=WRITTEN_AT)

    def get(self, key: str, *, for_update: bool = False) -> ProviderRead | None:
        return self.providers.get(key)

    def list(self) -> list[ProviderRead]:
        return [self.providers[key] for key in sorted(self.providers)]

    def keys(self) -> set[str]:
        return set(self.providers)


def catalog_fakes() -> dict[type[Any], object]:
    """Every catalog fake by its port, wired as the tables' foreign keys are."""
    features = FakeFeatureRepository()
    return {
        FeatureRepository: features,
        FormRepository: FakeFormRepository(features),
        PipelineRepository: FakePipelineRepository(features),
        ProviderConfigRepository: FakeProviderConfigRepository(),
    }


def catalog_database() -> InMemoryDatabase:
    return InMemoryDatabase(catalog_fakes())
