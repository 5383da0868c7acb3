"""Catalog use cases over the in-memory catalog, loaded with the seed as `migrate` loads it."""

from __future__ import annotations

from typing import Any

import pytest

from retouch.audit.repository import AuditRepository
from retouch.catalog import admin
from retouch.catalog.service import load_catalog
from tests.catalog_support import load_seed_catalog
from tests.fakes.audit import FakeAuditRepository
from tests.fakes.catalog import catalog_fakes
from tests.fakes.units import InMemoryDatabase

FORM: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"strength": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["strength"],
}
STEPS: list[dict[str, Any]] = [
    {"step": "prepare"},
    {"step": "generate", "providers": ["local"]},
    {"step": "store"},
]


class RecordingCache:
    """Stands for the shared cache: records which namespaces were retired."""

    def __init__(self) -> None:
        self.invalidated: list[str] = []

    def invalidate(self, namespace: str) -> None:
        self.invalidated.append(namespace)


@pytest.fixture
def database() -> InMemoryDatabase:
    """The seed catalog (5 features, each with form and pipeline version 1) and an audit log."""
    database = InMemoryDatabase({**catalog_fakes(), AuditRepository: FakeAuditRepository()})
    load_catalog(database=database, seed=load_seed_catalog())
    return database


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> RecordingCache:
    recording = RecordingCache()
    monkeypatch.setattr(admin, "get_cache", lambda: recording)
    return recording


def audit_of(database: InMemoryDatabase) -> FakeAuditRepository:
    fake = database.fakes[AuditRepository]
    assert isinstance(fake, FakeAuditRepository)
    return fake
