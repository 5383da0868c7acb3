"""Form and pipeline versions: ports and SQL. Versions are only ever inserted, never updated,
so any old version stays readable."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from retouch.catalog.schemas import FormSchema, PipelineSchema
from retouch.core.db import UnitOfWork
from retouch.core.time import from_db
from retouch.core.units import sql_adapter

Document = TypeVar("Document", covariant=True)


class VersionRepository(Protocol[Document]):
    """Versions of one JSON document per feature: added with the next number, never updated."""

    def add(self, *, feature_key: str, document: Any, created_by: int | None) -> int:
        """Store the next version; return its number. The caller must hold the feature row
        locked, so two writers cannot pick the same number."""
        ...

    def versions(self, feature_key: str) -> list[tuple[int, Any]]:
        """(version, document) of every stored version, oldest first."""
        ...

    def get(self, feature_key: str, version: int) -> Document | None: ...


class FormRepository(VersionRepository[FormSchema], Protocol):
    """The versions of each feature's form (a JSON schema)."""


class PipelineRepository(VersionRepository[PipelineSchema], Protocol):
    """The versions of each feature's pipeline (its steps)."""


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


@sql_adapter(FormRepository)
class MySQLFormRepository(_VersionRepository):
    _statements = _FORM_STATEMENTS

    def get(self, feature_key: str, version: int) -> FormSchema | None:
        row = self._row(feature_key, version)
        if row is None:
            return None
        schema = row.pop("document")
        return FormSchema.model_validate({**row, "json_schema": schema})


@sql_adapter(PipelineRepository)
class MySQLPipelineRepository(_VersionRepository):
    _statements = _PIPELINE_STATEMENTS

    def get(self, feature_key: str, version: int) -> PipelineSchema | None:
        row = self._row(feature_key, version)
        if row is None:
            return None
        steps = row.pop("document")
        return PipelineSchema.model_validate({**row, "steps": steps})
