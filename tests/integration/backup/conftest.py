"""Fixtures of the backup tests: the settings with small parts, an empty bucket, and a
restore target that does not exist yet."""

from __future__ import annotations

from pathlib import Path

import pytest

from retouch.core.settings import Settings, get_settings
from retouch.storage import LocalStorage
from tests.conftest import Stack
from tests.integration.backup_support import drop_database, local_storage


@pytest.fixture
def settings(stack: Stack) -> Settings:
    # Small parts: every table of any size is cut into several.
    return get_settings().model_copy(update={"backup_part_rows": 100})


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return local_storage(tmp_path / "bucket")


@pytest.fixture
def target(stack: Stack) -> str:
    name = "retouch_restored"
    drop_database(stack, name)
    return name
