"""Feature definitions: port and SQL."""

from __future__ import annotations

import json
from typing import Literal, Protocol

from retouch.catalog.schemas import FeatureRead, FeatureWrite
from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db
from retouch.core.units import sql_adapter

VersionKind = Literal["form", "pipeline"]


class FeatureRepository(Protocol):
    """Feature definitions by key: their terms and their current form and pipeline versions."""

    def upsert(self, feature: FeatureWrite) -> None:
        """Insert the feature or update its fields; its current versions are left alone."""
        ...

    def get(self, key: str, *, for_update: bool = False) -> FeatureRead | None: ...

    def list(self, *, enabled_only: bool) -> list[FeatureRead]:
        """The features (only the enabled ones if `enabled_only`), ordered by key."""
        ...

    def set_terms(self, key: str, *, cost: int, enabled: bool) -> None:
        """Change what the feature costs and whether clients may use it."""
        ...

    def set_current(self, key: str, *, kind: VersionKind, version: int) -> None: ...


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


@sql_adapter(FeatureRepository)
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

    def set_current(self, key: str, *, kind: VersionKind, version: int) -> None:
        if kind == "form":
            sql = "UPDATE feature_definitions SET form_version = %s WHERE feature_key = %s"
        else:
            sql = "UPDATE feature_definitions SET pipeline_version = %s WHERE feature_key = %s"
        self._uow.execute(sql, (version, key))
