"""Helpers of the catalog API tests: the catalog function's client, and a fresh feature per
test (so writes never touch the five seeded ones other tests read)."""

from __future__ import annotations

import secrets
from functools import cache
from typing import Any

from retouch.catalog.repository import MySQLFeatureRepository
from retouch.catalog.schemas import FeatureWrite
from retouch.catalog.service import add_form_version, add_pipeline_version
from retouch.core.db import get_database
from tests.catalog_support import seed_feature
from tests.conftest import load_function


@cache
def catalog_app() -> Any:
    return load_function("functions/http/catalog/app.py").app


def fresh_feature(*, cost: int = 3, enabled: bool = True) -> str:
    """A new enabled feature with cutout's form and pipeline as its version 1; its key."""
    key = f"t_{secrets.token_hex(6)}"
    cutout = seed_feature("cutout")
    database = get_database()
    with database.unit_of_work() as uow:
        MySQLFeatureRepository(uow).upsert(
            FeatureWrite(
                key=key,
                name_zh="测试功能",
                name_en="Test feature",
                description_zh="测试用",
                description_en="For tests",
                cost=cost,
                enabled=enabled,
                allowed_plans=["free"],
            )
        )
        uow.commit()
    add_form_version(
        database=database,
        feature_key=key,
        json_schema=cutout.form,
        created_by=None,
        make_current=True,
    )
    add_pipeline_version(
        database=database,
        feature_key=key,
        steps=cutout.pipeline,
        created_by=None,
        make_current=True,
    )
    return key
