"""The scf queue backend's invocation event without servers: the sample events parse, and an
envelope with a wrong field is refused before any step runs (a forged or corrupted event
becomes a clear error, never a step run with a half-read message)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retouch.queue import Envelope, InvalidMessage, InvalidQueueName, scf_queue_messages
from retouch.queue.scf_events import invoked_envelopes

EVENTS = Path(__file__).resolve().parents[2] / "events"
GOOD: dict[str, Any] = {
    "queue": "steps-prepare",
    "msgId": "5f0c1e2d3b4a59687766554433221100",
    "msgBody": '{"task_id":"tsk_1","step":"prepare","attempt":1}',
    "sentAtMs": 1795860000000,
}


@pytest.mark.parametrize("step", ["prepare", "generate", "store", "finalize"])
def test_each_sample_invoke_event_yields_its_step_message(step: str) -> None:
    event = json.loads((EVENTS / f"{step}_step_scf_invoke.json").read_text())

    [message] = scf_queue_messages(event)
    [envelope] = invoked_envelopes(event)

    assert (message.source, message.body["step"]) == (f"steps-{step}", step)
    assert envelope.event() == event


def test_an_envelope_survives_its_own_event_text() -> None:
    envelope = Envelope(**GOOD)

    assert invoked_envelopes(json.loads(envelope.event_text())) == [envelope]


@pytest.mark.parametrize(
    "change",
    [
        {"msgId": ""},
        {"msgId": 7},
        {"queue": None},
        {"msgBody": '["not", "an", "object"]'},
        {"msgBody": "not json"},
        {"msgBody": {"task_id": "tsk_1"}},
        {"sentAtMs": "1795860000000"},
        {"sentAtMs": True},
    ],
)
def test_an_envelope_with_a_wrong_field_is_refused(change: dict[str, Any]) -> None:
    event = {"Records": [{"RetouchQueue": {**GOOD, **change}}]}

    with pytest.raises(InvalidMessage):
        invoked_envelopes(event)
    with pytest.raises(InvalidMessage):
        scf_queue_messages(event)


def test_an_envelope_naming_an_impossible_queue_is_refused() -> None:
    event = {"Records": [{"RetouchQueue": {**GOOD, "queue": "../steps"}}]}

    with pytest.raises(InvalidQueueName):
        invoked_envelopes(event)


def test_a_trigger_event_is_not_an_invocation_event() -> None:
    cmq = {"Records": [{"CMQ": {"msgId": "1", "msgBody": "{}"}}]}
    mixed = {"Records": [{"RetouchQueue": GOOD}, {"CMQ": {"msgId": "1", "msgBody": "{}"}}]}

    assert invoked_envelopes(cmq) == []
    assert invoked_envelopes(mixed) == []
    assert invoked_envelopes({"Records": "nope"}) == []
