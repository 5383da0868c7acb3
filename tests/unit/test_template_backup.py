"""The backup and verify functions in both descriptors: daily, the verify after the backup,
Lambda's and SCF's 900 s, and on AWS object access to `backups/` of the bucket only."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.deploy_tencent.config import Plan
from scripts.local.sam import TEMPLATE
from tests.unit.test_deploy_config import _by_folder, _environment
from tests.unit.test_descriptors import _document

FUNCTIONS = {"BackupFunction": "backup", "BackupVerifyFunction": "backup_verify"}
BUCKET_BACKUPS = "arn:${AWS::Partition}:s3:::${AWS::StackName}-${AWS::AccountId}-uploads/backups/*"


def _properties(logical_id: str) -> dict[str, Any]:
    return _document(TEMPLATE)["Resources"][logical_id]["Properties"]  # type: ignore[no-any-return]


def _object_statements(logical_id: str) -> list[dict[str, Any]]:
    policies = _properties(logical_id)["Policies"]
    return [s for p in policies if isinstance(p, dict) and "Statement" in p for s in p["Statement"]]


@pytest.mark.parametrize(
    ("logical_id", "actions"),
    [
        ("BackupFunction", {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}),
        ("BackupVerifyFunction", {"s3:GetObject"}),
    ],
)
def test_the_jobs_reach_the_backups_prefix_of_the_bucket_only(
    logical_id: str, actions: set[str]
) -> None:
    (statement,) = _object_statements(logical_id)

    assert statement["Effect"] == "Allow"
    assert set(statement["Action"]) == actions
    assert statement["Resource"] == {"Fn::Sub": BUCKET_BACKUPS}
    policies = _properties(logical_id)["Policies"]
    assert {"Ref": "RuntimeSecretsPolicy"} in policies
    assert not any(isinstance(p, dict) and "S3CrudPolicy" in p for p in policies)


def _hour(expression: str) -> int:
    minute, hour, *_ = expression.removeprefix("cron(").removesuffix(")").split()
    assert minute == "0"
    return int(hour)


def test_both_run_daily_on_aws_the_verify_hours_after_the_backup_within_lambdas_limit() -> None:
    hours = {}
    for logical_id in FUNCTIONS:
        properties = _properties(logical_id)
        (event,) = properties["Events"].values()
        assert event["Type"] == "Schedule"
        hours[logical_id] = _hour(event["Properties"]["Schedule"])
        assert properties["Timeout"] == 900
        assert properties["MemorySize"] >= 512

    assert hours["BackupVerifyFunction"] - hours["BackupFunction"] >= 2


def test_both_run_daily_on_scf_at_the_same_hours_within_scfs_limit() -> None:
    from scripts.deploy_tencent.config import load_plan

    plan: Plan = load_plan("dev", _environment())
    functions = _by_folder(plan)
    hours = {}
    for logical_id, folder in FUNCTIONS.items():
        function = next(f for path, f in functions.items() if path.name == folder)
        (timer,) = [t for t in function.triggers if t.kind == "timer"]
        second, minute, hour, *rest = timer.desc.split()
        assert (second, minute, rest) == ("0", "0", ["*", "*", "*", "*"])
        assert function.timeout == 900
        hours[logical_id] = int(hour)

    aws = {
        logical_id: _hour(
            next(iter(_properties(logical_id)["Events"].values()))["Properties"]["Schedule"]
        )
        for logical_id in FUNCTIONS
    }
    assert hours == aws
