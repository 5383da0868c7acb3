"""Every sample event in events/ invokes its function through the real handler (with a real
access token where the event has the placeholder), against the real MariaDB and Redis; the
files themselves are checked against template.yaml in tests/unit/test_descriptors.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.local.lambda_runtime import FakeLambdaContext
from scripts.local.sam import CUSTOM_RESOURCE_EVENT_SHAPES, EVENTS, load_handler, load_template
from tests.conftest import Stack
from tests.integration.cfn_support import answer_receiver
from tests.integration.operations.sample_events_support import (
    check_sample_response,
    with_access_token,
    with_response_url,
)

EVENT_FILES = sorted(EVENTS.glob("*.json"))


@pytest.mark.integration
@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda path: path.name)
def test_every_sample_event_invokes_its_function(
    stack: Stack, event_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (objects the functions write, such as the backup's, go to a folder of this test)
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    spec, shape = load_template().function_for_event(event_file)
    if spec.logical_id == "BackupVerifyFunction":
        from retouch.backup.handlers import backup_job

        backup_job()  # a backup for the verify to restore
    # GIVEN a sample event and the function its name points to (with a real access token
    # where the event has the placeholder)
    event = with_access_token(json.loads(event_file.read_text()))

    # WHEN the function's real handler receives it (the SCF entry point for an SCF shape; a
    # custom-resource request answers on a loopback URL standing in for the presigned one)
    with answer_receiver() as (url, received):
        event = with_response_url(event, url)
        response = load_handler(spec, shape=shape)(event, FakeLambdaContext())
    if shape in CUSTOM_RESOURCE_EVENT_SHAPES:
        assert [answer["body"] for answer in received] == [response]

    # THEN it answers as its kind of function must (sample_events_support)
    check_sample_response(logical_id=spec.logical_id, shape=shape, event=event, response=response)
