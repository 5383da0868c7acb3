"""scripts.local.queue_rules: each rule for the template's SQS queues catches a queue that
breaks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.local.queue_rules import live_queues, queue_problems
from scripts.local.sam import load_template
from tests.unit.template_support import queue_with_dead_letters, sqs_function

# A compliant template: a consumed queue, an unconsumed one, each with its dead-letter queue.
GOOD_TEMPLATE = (
    """
Transform: AWS::Serverless-2016-10-31
Mappings:
  Steps:
    Function: {Timeout: 30, QueueVisibilityTimeout: 180}
Globals:
  Function:
    Timeout: 20
Resources:
"""
    + queue_with_dead_letters("Prepare", "steps-prepare", visibility="120")
    + queue_with_dead_letters(
        "Store", "steps-store", visibility="!FindInMap [Steps, Function, QueueVisibilityTimeout]"
    )
    + sqs_function("PrepareFunction", "prepare/", "!GetAtt PrepareQueue.Arn")
)


def _problems(tmp_path: Path, text: str = GOOD_TEMPLATE) -> list[str]:
    (tmp_path / "template.yaml").write_text(text)
    return queue_problems(load_template(tmp_path / "template.yaml"))


def _replace(old: str, new: str) -> str:
    assert old in GOOD_TEMPLATE
    return GOOD_TEMPLATE.replace(old, new)


def test_a_template_following_every_rule_has_no_problem(tmp_path: Path) -> None:
    assert _problems(tmp_path) == []


def test_the_dead_letter_queues_are_not_live_queues(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(GOOD_TEMPLATE)

    live = live_queues(load_template(tmp_path / "template.yaml"))

    assert [queue.logical_id for queue in live] == ["PrepareQueue", "StoreQueue"]


FAILURE_DESTINATION = """  AsyncFailureQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-async-failures-dlq"
"""


def test_a_dlq_named_queue_without_a_source_queue_is_a_failure_destination(
    tmp_path: Path,
) -> None:
    # GIVEN a `-dlq` queue no queue redrives to (where failed async invocations go)
    (tmp_path / "template.yaml").write_text(GOOD_TEMPLATE + FAILURE_DESTINATION)

    live = live_queues(load_template(tmp_path / "template.yaml"))

    # THEN it needs no redrive policy of its own, like the steps' dead-letter queues
    assert [queue.logical_id for queue in live] == ["PrepareQueue", "StoreQueue"]
    assert _problems(tmp_path, GOOD_TEMPLATE + FAILURE_DESTINATION) == []


def test_a_failure_destination_still_needs_a_stack_prefixed_name(tmp_path: Path) -> None:
    text = GOOD_TEMPLATE + FAILURE_DESTINATION.replace("${AWS::StackName}-", "")

    assert _problems(tmp_path, text) == [
        'AsyncFailureQueue: QueueName must be !Sub "${AWS::StackName}-async-failures-dlq"'
    ]


def test_a_queue_without_a_redrive_policy_is_reported(tmp_path: Path) -> None:
    # GIVEN the store queue without its RedrivePolicy (its old DLQ becomes a live queue too)
    text = _replace(
        "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt StoreDeadLetterQueue.Arn\n"
        "        maxReceiveCount: 5\n",
        "",
    )

    problems = _problems(tmp_path, text)

    assert "StoreQueue: no RedrivePolicy (deadLetterTargetArn, maxReceiveCount)" in problems
    assert "StoreDeadLetterQueue: no RedrivePolicy (deadLetterTargetArn, maxReceiveCount)" in (
        problems
    )


def test_a_dead_letter_queue_outside_the_template_is_reported(tmp_path: Path) -> None:
    text = _replace(
        "deadLetterTargetArn: !GetAtt PrepareDeadLetterQueue.Arn",
        'deadLetterTargetArn: "arn:aws:sqs:eu-west-1:123456789012:elsewhere"',
    )

    problems = _problems(tmp_path, text)

    assert "PrepareQueue: the dead-letter queue elsewhere is no queue of the template" in problems


def test_a_dead_letter_queue_of_another_name_is_reported(tmp_path: Path) -> None:
    # GIVEN the prepare queue redriving into the store queue's DLQ
    text = _replace(
        "deadLetterTargetArn: !GetAtt PrepareDeadLetterQueue.Arn",
        "deadLetterTargetArn: !GetAtt StoreDeadLetterQueue.Arn",
    )

    problems = _problems(tmp_path, text)

    assert (
        "PrepareQueue: the dead-letter queue is steps-store-dlq, expected steps-prepare-dlq"
        in problems
    )


@pytest.mark.parametrize("count", ["0", "-1"])
def test_a_max_receive_count_under_one_is_reported(tmp_path: Path, count: str) -> None:
    text = GOOD_TEMPLATE.replace("maxReceiveCount: 5", f"maxReceiveCount: {count}", 1)

    assert _problems(tmp_path, text) == [
        f"PrepareQueue: maxReceiveCount must be at least 1, is {count}"
    ]


def test_a_queue_name_without_the_stack_prefix_is_reported(tmp_path: Path) -> None:
    text = _replace('!Sub "${AWS::StackName}-steps-store-dlq"', "steps-store-dlq")

    assert _problems(tmp_path, text) == [
        'StoreDeadLetterQueue: QueueName must be !Sub "${AWS::StackName}-steps-store-dlq"'
    ]


def test_a_queue_without_a_queue_name_is_reported(tmp_path: Path) -> None:
    text = _replace(
        '    Properties:\n      QueueName: !Sub "${AWS::StackName}-steps-prepare-dlq"\n',
        "    Properties: {}\n",
    )

    # The DLQ is then named after its logical id, so the redrive target's name is off too.
    assert _problems(tmp_path, text) == [
        'PrepareDeadLetterQueue: QueueName must be !Sub "${AWS::StackName}-PrepareDeadLetterQueue"',
        "PrepareQueue: the dead-letter queue is PrepareDeadLetterQueue, expected steps-prepare-dlq",
    ]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        pytest.param(
            "VisibilityTimeout: 120",
            "VisibilityTimeout: 119",
            "PrepareQueue: VisibilityTimeout 119 s is under 6 x 20 s (PrepareFunction)",
            id="under-6x-the-consumer's-Globals-timeout",
        ),
        pytest.param(
            "      CodeUri: prepare/\n",
            "      CodeUri: prepare/\n      Timeout: 25\n",
            "PrepareQueue: VisibilityTimeout 120 s is under 6 x 25 s (PrepareFunction)",
            id="under-6x-the-consumer's-own-timeout",
        ),
        pytest.param(
            "      VisibilityTimeout: 120\n",
            "",
            "PrepareQueue: VisibilityTimeout 30 s is under 6 x 20 s (PrepareFunction)",
            id="none-set-so-SQS's-default-30-s",
        ),
        pytest.param(
            "QueueVisibilityTimeout: 180",
            "QueueVisibilityTimeout: 179",
            "StoreQueue: VisibilityTimeout 179 s is under 6 x 30 s (the declared step timeout)",
            id="unconsumed-under-6x-the-step-timeout",
        ),
    ],
)
def test_a_visibility_timeout_under_six_times_the_function_timeout_is_reported(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    # GIVEN the good template with one visibility or timeout changed (Globals' Timeout is 20 s)
    text = _replace(old, new)

    # THEN exactly that queue's visibility is reported
    assert _problems(tmp_path, text) == [problem]


def test_an_unconsumed_queue_needs_a_declared_step_timeout(tmp_path: Path) -> None:
    text = _replace(
        "    Function: {Timeout: 30, QueueVisibilityTimeout: 180}",
        "    Function: {QueueVisibilityTimeout: 180}",
    )

    assert _problems(tmp_path, text) == [
        "StoreQueue: no function consumes it and the template declares no step timeout "
        "(Mappings Steps/Function/Timeout)"
    ]
