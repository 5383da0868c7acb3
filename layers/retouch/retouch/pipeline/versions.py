"""The catalog's versions a step reads, kept per function instance: a task names the pipeline
and form versions it was created with, and a version is only ever inserted, never updated
(`catalog.repository.versions`), so the first read of one serves every later step of every
task naming it, with no statement and no model validation."""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from retouch.catalog.repository import FormRepository, PipelineRepository
from retouch.catalog.schemas import FormSchema, PipelineSchema
from retouch.core.units import Transaction

#: Versions kept per kind; past it the cache starts afresh (a handful are live at once).
MAX_VERSIONS = 256

Document = TypeVar("Document")


class Versions:
    """Pipeline and form versions by (feature, version), read through the caller's unit of
    work on a miss. A version not found is not kept: a later read looks again."""

    def __init__(self, size: int = MAX_VERSIONS) -> None:
        self._size = size
        self._pipelines: dict[tuple[str, int], PipelineSchema] = {}
        self._forms: dict[tuple[str, int], FormSchema] = {}
        self._lock = threading.Lock()

    def pipeline(self, uow: Transaction, feature_key: str, version: int) -> PipelineSchema | None:
        return self._kept(self._pipelines, uow, PipelineRepository, (feature_key, version))

    def form(self, uow: Transaction, feature_key: str, version: int) -> FormSchema | None:
        return self._kept(self._forms, uow, FormRepository, (feature_key, version))

    def _kept(
        self,
        kept: dict[tuple[str, int], Document],
        uow: Transaction,
        port: type[Any],
        key: tuple[str, int],
    ) -> Document | None:
        found = kept.get(key)
        if found is not None:
            return found
        document: Document | None = uow.repository(port).get(*key)
        if document is not None:
            with self._lock:
                if len(kept) >= self._size:
                    kept.clear()
                kept[key] = document
        return document
