"""Form and pipeline versions kept per function instance: a version is only ever inserted,
never updated (`catalog.repository.versions`), so the first read of one serves every later
read naming it — each step of every task created with it (`pipeline.context`), each creation
against the feature's current one (`tasks.creation`) — with no statement and no validation."""

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
