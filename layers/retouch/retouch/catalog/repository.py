"""SQL for features, form and pipeline versions, and provider configs.

Parameterised statements in the caller's unit of work; repositories never commit. Form and
pipeline versions are only ever inserted, never updated, so any old version stays readable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from retouch.catalog.schemas import (
    FeatureRead,
    FeatureWrite,
    FormSchema,
    PipelineSchema,
    ProviderRead,
    ProviderWrite,
)
from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db

_FEATURE_COLUMNS = (
    "SELECT feature_key, name_zh, name_en, description_zh, description_en, cost, enabled, "
    "allowed_plans, form_version, pipeline_version, updated_at FROM feature_definitions "
)


def _feature(row: Row) -> FeatureRead:
    return FeatureRead(
        key=row["feature_key"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        description_zh=row["description_zh"],
        description_en=row["description_en"],
        cost=int(row["cost"]),
        enabled=bool(row["enabled"]),
        allowed_plans=json.loads(row["allowed_plans"]),
        form_version=row["form_version"],
        pipeline_version=row["pipeline_version"],
        updated_at=from_db(row["updated_at"]),
    )


class MySQLFeatureRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def upsert(self, feature: FeatureWrite) -> None:
        """Insert the feature or update its fields; its current versions are left alone."""
        self._uow.execute(
            "INSERT INTO feature_definitions (feature_key, name_zh, name_en, description_zh, "
            "description_en, cost, enabled, allowed_plans) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE name_zh = VALUES(name_zh), name_en = VALUES(name_en), "
            "description_zh = VALUES(description_zh), description_en = VALUES(description_en), "
            "cost = VALUES(cost), enabled = VALUES(enabled), "
            "allowed_plans = VALUES(allowed_plans)",
            (
                feature.key,
                feature.name_zh,
                feature.name_en,
                feature.description_zh,
                feature.description_en,
                feature.cost,
                feature.enabled,
                json.dumps(feature.allowed_plans),
            ),
        )

    def get(self, key: str, *, for_update: bool = False) -> FeatureRead | None:
        sql = _FEATURE_COLUMNS + "WHERE feature_key = %s"
        row = self._uow.fetch_one(sql + " FOR UPDATE" if for_update else sql, (key,))
        return None if row is None else _feature(row)

    def list(self, *, enabled_only: bool) -> list[FeatureRead]:
        rows = self._uow.fetch_all(
            _FEATURE_COLUMNS + "WHERE enabled OR NOT %s ORDER BY feature_key", (enabled_only,)
        )
        return [_feature(row) for row in rows]

    def set_terms(self, key: str, *, cost: int, enabled: bool) -> None:
        """Change what the feature costs and whether clients may use it."""
        self._uow.execute(
            "UPDATE feature_definitions SET cost = %s, enabled = %s WHERE feature_key = %s",
            (cost, enabled, key),
        )

    def set_current(self, key: str, *, kind: Literal["form", "pipeline"], version: int) -> None:
        if kind == "form":
            sql = "UPDATE feature_definitions SET form_version = %s WHERE feature_key = %s"
        else:
            sql = "UPDATE feature_definitions SET pipeline_version = %s WHERE feature_key = %s"
        self._uow.execute(sql, (version, key))


@dataclass(frozen=True, slots=True)
class _VersionStatements:
    """The statements of one versioned table (constants: no SQL is built at run time)."""

    next_version: str
    insert: str
    select_one: str
    select_all: str


_FORM_STATEMENTS = _VersionStatements(
    next_version="SELECT COALESCE(MAX(version), 0) + 1 AS v FROM form_schemas "
    "WHERE feature_key = %s",
    insert="INSERT INTO form_schemas (feature_key, version, json_schema, created_by) "
    "VALUES (%s, %s, %s, %s)",
    select_one="SELECT feature_key, version, json_schema AS document, created_at, created_by "
    "FROM form_schemas WHERE feature_key = %s AND version = %s",
    select_all="SELECT version, json_schema AS document FROM form_schemas "
    "WHERE feature_key = %s ORDER BY version",
)
_PIPELINE_STATEMENTS = _VersionStatements(
    next_version="SELECT COALESCE(MAX(version), 0) + 1 AS v FROM pipeline_schemas "
    "WHERE feature_key = %s",
    insert="INSERT INTO pipeline_schemas (feature_key, version, steps, created_by) "
    "VALUES (%s, %s, %s, %s)",
    select_one="SELECT feature_key, version, steps AS document, created_at, created_by "
    "FROM pipeline_schemas WHERE feature_key = %s AND version = %s",
    select_all="SELECT version, steps AS document FROM pipeline_schemas "
    "WHERE feature_key = %s ORDER BY version",
)


class _VersionRepository:
    """Versions of one JSON document per feature: added with the next number, never updated."""

    _statements: ClassVar[_VersionStatements]

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, *, feature_key: str, document: Any, created_by: int | None) -> int:
        """Store the next version; return its number. The caller must hold the feature row
        locked, so two writers cannot pick the same number."""
        row = self._uow.fetch_one(self._statements.next_version, (feature_key,))
        version = 1 if row is None else int(row["v"])  # an aggregate always returns one row
        self._uow.execute(
            self._statements.insert,
            (feature_key, version, json.dumps(document, ensure_ascii=False), created_by),
        )
        return version

    def versions(self, feature_key: str) -> list[tuple[int, Any]]:
        """(version, document) of every stored version, oldest first."""
        rows = self._uow.fetch_all(self._statements.select_all, (feature_key,))
        return [(int(row["version"]), json.loads(row["document"])) for row in rows]

    def _row(self, feature_key: str, version: int) -> dict[str, Any] | None:
        row = self._uow.fetch_one(self._statements.select_one, (feature_key, version))
        if row is None:
            return None
        return {
            "feature_key": row["feature_key"],
            "version": int(row["version"]),
            "document": json.loads(row["document"]),
            "created_at": from_db(row["created_at"]),
            "created_by": row["created_by"],
        }


class MySQLFormRepository(_VersionRepository):
    _statements = _FORM_STATEMENTS

    def get(self, feature_key: str, version: int) -> FormSchema | None:
        row = self._row(feature_key, version)
        if row is None:
            return None
        schema = row.pop("document")
        return FormSchema.model_validate({**row, "json_schema": schema})


class MySQLPipelineRepository(_VersionRepository):
    _statements = _PIPELINE_STATEMENTS

    def get(self, feature_key: str, version: int) -> PipelineSchema | None:
        row = self._row(feature_key, version)
        if row is None:
            return None
        steps = row.pop("document")
        return PipelineSchema.model_validate({**row, "steps": steps})


_PROVIDER_SELECT = (
    "SELECT provider_key, kind, endpoint, credential_ref, options, weight, concurrency_limit, "
    "enabled, updated_at FROM provider_configs"
)


def _provider(row: Row) -> ProviderRead:
    return ProviderRead(
        key=row["provider_key"],
        kind=row["kind"],
        endpoint=row["endpoint"],
        credential_ref=row["credential_ref"],
        options=json.loads(row["options"]) if row["options"] else {},
        weight=int(row["weight"]),
        concurrency_limit=int(row["concurrency_limit"]),
        enabled=bool(row["enabled"]),
        updated_at=from_db(row["updated_at"]),
    )


class MySQLProviderRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def upsert(self, provider: ProviderWrite) -> None:
        self._uow.execute(
            "INSERT INTO provider_configs (provider_key, kind, endpoint, credential_ref, options, "
            "weight, concurrency_limit, enabled) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE kind = VALUES(kind), endpoint = VALUES(endpoint), "
            "credential_ref = VALUES(credential_ref), options = VALUES(options), "
            "weight = VALUES(weight), "
            "concurrency_limit = VALUES(concurrency_limit), enabled = VALUES(enabled)",
            (
                provider.key,
                provider.kind,
                provider.endpoint,
                provider.credential_ref,
                json.dumps(provider.options, separators=(",", ":")) if provider.options else None,
                provider.weight,
                provider.concurrency_limit,
                provider.enabled,
            ),
        )

    def get(self, key: str, *, for_update: bool = False) -> ProviderRead | None:
        sql = _PROVIDER_SELECT + " WHERE provider_key = %s"
        row = self._uow.fetch_one(sql + " FOR UPDATE" if for_update else sql, (key,))
        return None if row is None else _provider(row)

    def list(self) -> list[ProviderRead]:
        rows = self._uow.fetch_all(_PROVIDER_SELECT + " ORDER BY provider_key")
        return [_provider(row) for row in rows]

    def keys(self) -> set[str]:
        rows = self._uow.fetch_all("SELECT provider_key FROM provider_configs")
        return {row["provider_key"] for row in rows}
