"""Upload use cases over the in-memory uploads, a local storage under tmp_path and two users."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from retouch.core.settings import Settings
from retouch.storage import LocalStorage
from retouch.uploads.repository import UploadRepository
from tests.fakes.identity import principal
from tests.fakes.units import InMemoryDatabase
from tests.fakes.uploads import FakeUploadRepository
from tests.unit.storage_support import SecondsClock, make_storage

NOW = datetime(2030, 5, 10, 12, 0, tzinfo=timezone.utc)
MAX_BYTES = 4096
MAX_PIXELS = 10_000


ALICE = principal(1)
BOB = principal(2)


@pytest.fixture
def uploads() -> FakeUploadRepository:
    return FakeUploadRepository()


@pytest.fixture
def database(uploads: FakeUploadRepository) -> InMemoryDatabase:
    return InMemoryDatabase({UploadRepository: uploads})


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return make_storage(tmp_path, SecondsClock())


@pytest.fixture
def settings() -> Settings:
    return Settings.model_validate(
        {
            "db_host": "127.0.0.1",
            "db_user": "unit",
            "db_name": "unit",
            "redis_url": "redis://127.0.0.1:9/0",
            "upload_max_bytes": MAX_BYTES,
            "upload_max_pixels": MAX_PIXELS,
        }
    )
