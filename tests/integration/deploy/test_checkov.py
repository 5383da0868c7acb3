"""A static security scan of template.yaml (checkov, offline): every finding is fixed, skipped in
the template with its reason (`# checkov:skip=<id>: <why>` inside the resource), or named below
as open work on the resource it concerns (none is left). A pending entry that no longer fails
must go, so this list only shrinks. checkov runs from .venv-iac (scripts/setup,
requirements/iac.txt: it cannot share dev.txt's pytest); CHECKOV may name another
executable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts.local.lambda_runtime import ROOT
from scripts.local.sam import TEMPLATE

pytestmark = pytest.mark.integration

IAC_VENV = ROOT / ".venv-iac"

#: check id → (the issue that fixes it, the resources it may still fail on; None: any). Empty:
#: every finding is fixed or skipped inline with its reason; a new finding fails the suite.
PENDING: dict[str, tuple[str, frozenset[str] | None]] = {}

# A policy that lets anyone write anything: the scan must refuse it.
WILDCARD_WRITE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Anything:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: "s3:*"
            Resource: "*"
"""


def _checkov() -> str:
    found = os.environ.get("CHECKOV") or shutil.which("checkov", path=str(IAC_VENV / "bin"))
    assert found, "checkov is missing: run scripts/setup (.venv-iac), or set CHECKOV"
    return found


def _scan(path: Path) -> dict[str, Any]:
    """checkov's JSON report of one CloudFormation file, without calling Prisma Cloud."""
    args = [_checkov(), "-f", str(path), "--framework", "cloudformation", "-o", "json"]
    result = subprocess.run(  # noqa: S603 - our tool, fixed arguments
        [*args, "--skip-download"], capture_output=True, text=True, check=False, timeout=300
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _resource(finding: dict[str, Any]) -> str:
    return str(finding["resource"]).rsplit(".", 1)[-1]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return _scan(TEMPLATE)


def test_the_scan_reads_the_whole_template(report: dict[str, Any]) -> None:
    # THEN checkov parsed every resource of the template
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] >= 28


def test_every_finding_is_fixed_or_pending_on_its_resources(report: dict[str, Any]) -> None:
    # GIVEN what checkov still reports
    failed = {(f["check_id"], _resource(f)) for f in report["results"]["failed_checks"]}

    # THEN each is open work of issue 14 on a resource that work covers
    unexplained = {
        (check, resource)
        for check, resource in failed
        if check not in PENDING or resource not in (PENDING[check][1] or {resource})
    }
    assert not unexplained
    # AND every pending entry still fails (else it is fixed: take it out of PENDING)
    assert {check for check, _ in failed} == set(PENDING)


def test_every_skip_in_the_template_says_why(report: dict[str, Any]) -> None:
    # GIVEN the checks the template skips inline
    skipped = report["results"]["skipped_checks"]

    # THEN there are some, and each carries a reason of its own
    assert skipped
    reasons = {
        (s["check_id"], _resource(s)): s["check_result"]["suppress_comment"] for s in skipped
    }
    assert all(len(reason.strip()) >= 40 for reason in reasons.values()), reasons


def test_the_scan_refuses_a_wildcard_write_policy(tmp_path: Path) -> None:
    # GIVEN a template whose policy allows s3:* on every resource
    probe = tmp_path / "probe.yaml"
    probe.write_text(WILDCARD_WRITE, encoding="utf-8")

    # WHEN checkov scans it
    failed = {f["check_id"] for f in _scan(probe)["results"]["failed_checks"]}

    # THEN it reports the unconstrained write
    assert "CKV_AWS_111" in failed
