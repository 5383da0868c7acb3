"""Upload use cases over the in-memory uploads, a local storage under tmp_path and two users."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from retouch.core.identity import CurrentMembership, Principal, User
from retouch.core.security import AccessClaims
from retouch.core.settings import Settings
from retouch.storage import LocalStorage
from retouch.uploads.repository import UploadRepository
from tests.fakes.units import InMemoryDatabase
from tests.fakes.uploads import FakeUploadRepository
from tests.unit.storage_support import SecondsClock, make_storage

NOW = datetime(2030, 5, 10, 12, 0, tzinfo=timezone.utc)
MAX_BYTES = 4096
MAX_PIXELS = 10_000


def principal(user_id: int) -> Principal:
    public_id = f"usr_{'A' * 21}{user_id}"
    user = User(
        id=user_id,
        public_id=public_id,
        email=f"user{user_id}@example.com",
        password_hash="-",
        role="user",
        status="active",
        created_at=NOW,
        updated_at=NOW,
    )
    claims = AccessClaims(
        subject=public_id, role="user", jti="j", session_id="s", issued_at=0, expires_at=1
    )
    return Principal(
        user=user, claims=claims, membership=CurrentMembership(plan_code="free", expires_at=None)
    )


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
