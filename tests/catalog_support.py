"""The seed catalog and realistic inputs of each feature, shared by the catalog tests."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from retouch.catalog.schemas import CatalogSeed, FeatureSeed, FormSchema
from retouch.core.ids import new_public_id

SEED = Path(__file__).resolve().parent.parent / "shared" / "seed"


def load_seed_catalog() -> CatalogSeed:
    return CatalogSeed.model_validate_json((SEED / "catalog.json").read_text())


def load_seed_plans() -> dict[str, Any]:
    plans: dict[str, Any] = json.loads((SEED / "plans.json").read_text())
    return {plan["code"]: plan for plan in plans["plans"]}


def seed_feature(key: str) -> FeatureSeed:
    return next(feature for feature in load_seed_catalog().features if feature.key == key)


def form_of(key: str, version: int = 1) -> FormSchema:
    return FormSchema(
        feature_key=key,
        version=version,
        json_schema=seed_feature(key).form,
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )


def upload_id() -> str:
    return new_public_id("upl")


def valid_inputs() -> dict[str, dict[str, Any]]:
    """One realistic input of each seeded feature."""
    return {
        "cutout": {"image": upload_id(), "refine_edges": True},
        "eraser": {"image": upload_id(), "mask": upload_id(), "dilate": 8},
        "outfit": {"image": upload_id(), "garment": upload_id(), "garment_type": "upper"},
        "faceswap": {"image": upload_id(), "face": upload_id()},
        "outpaint": {"image": upload_id(), "ratio": "16:9"},
    }
