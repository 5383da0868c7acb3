"""Managed backups in template.yaml (DataTier=new), on what CloudFormation would create: Aurora
keeps automated backups for the stage's days (or DatabaseBackupRetentionDays) in a named
window that does not meet the maintenance window, copies tags to snapshots and is protected
from deletion in prod; Redis keeps daily snapshots for the stage's days."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from scripts.local.sam import TEMPLATE
from tests.unit.cfn_support import translated

MAINTENANCE = "sun:04:00-sun:05:00"


@functools.cache
def _resources(stage: str, **more: str) -> dict[str, Any]:
    template = translated(TEMPLATE, {"DataTier": "new", "Stage": stage, **more})
    resources: dict[str, Any] = template["Resources"]
    mappings = template["Mappings"]

    def resolved(node: Any) -> Any:
        # the only FindInMap whose key is a parameter: the stage
        if isinstance(node, dict) and set(node) == {"Fn::FindInMap"}:
            name, top, second = node["Fn::FindInMap"]
            return mappings[name][stage if top == {"Ref": "Stage"} else top][second]
        if isinstance(node, dict):
            return {key: resolved(value) for key, value in node.items()}
        return node

    return {name: resolved(resource) for name, resource in resources.items()}


def _cluster(stage: str, **more: str) -> dict[str, Any]:
    properties: dict[str, Any] = _resources(stage, **more)["DatabaseCluster"]["Properties"]
    return properties


@pytest.mark.parametrize(("stage", "days", "protected"), [("dev", 1, "false"), ("prod", 7, "true")])
def test_aurora_keeps_the_stages_backups_and_protects_prod(
    stage: str, days: int, protected: str
) -> None:
    cluster = _cluster(stage)

    assert cluster["BackupRetentionPeriod"] == days
    assert cluster["DeletionProtection"] == protected
    assert cluster["CopyTagsToSnapshot"] is True
    assert cluster["PreferredBackupWindow"] == {"Ref": "DatabaseBackupWindow"}
    assert cluster["PreferredMaintenanceWindow"] == MAINTENANCE


def test_the_parameters_override_the_stage() -> None:
    cluster = _cluster("prod", DatabaseBackupRetentionDays="21", DatabaseDeletionProtection="false")

    assert cluster["BackupRetentionPeriod"] == {"Ref": "DatabaseBackupRetentionDays"}
    assert cluster["DeletionProtection"] == {"Ref": "DatabaseDeletionProtection"}


@pytest.mark.parametrize(("stage", "days"), [("dev", 1), ("prod", 7)])
def test_redis_keeps_daily_snapshots_for_the_stages_days(stage: str, days: int) -> None:
    group = _resources(stage)["RedisReplicationGroup"]["Properties"]

    assert group["SnapshotRetentionLimit"] == days
    assert group["SnapshotWindow"] == {"Ref": "DatabaseBackupWindow"}
    assert group["PreferredMaintenanceWindow"] == MAINTENANCE


def test_the_default_backup_window_misses_the_maintenance_window() -> None:
    template = translated(TEMPLATE, {"DataTier": "new"})
    start, end = template["Parameters"]["DatabaseBackupWindow"]["Default"].split("-")

    # THEN the window is 30 minutes or more, on the same day, and ends before Sunday's 04:00
    minutes = [int(t[:2]) * 60 + int(t[3:]) for t in (start, end)]
    assert minutes[1] - minutes[0] >= 30
    assert minutes[1] <= 4 * 60 or minutes[0] >= 5 * 60
