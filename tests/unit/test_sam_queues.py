"""scripts.local.sam: a template's SQS queues under their local names, and what an SQS event
reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.local.sam import QueueResource, Template, TemplateError, load_template
from tests.unit.template_support import queue_with_dead_letters, sqs_function

QUEUES_TEMPLATE = (
    """
Transform: AWS::Serverless-2016-10-31
Resources:
"""
    + queue_with_dead_letters("Prepare", "steps-prepare", visibility="60", max_receive_count=4)
    + """  GenerateQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: >-
        {"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:dead", "maxReceiveCount": "2"}
"""
    + sqs_function("PrepareFunction", "prepare/", "!GetAtt PrepareQueue.Arn")
    + """  GenerateFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: generate/
      Handler: app.handler
      Events:
        Steps: {Type: SQS, Properties: {Queue: !Ref GenerateQueue, BatchSize: 1}}
  StoreFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: store/
      Handler: app.handler
      Events:
        Steps:
          Type: SQS
          Properties:
            Queue: !Sub "arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-steps-store"
"""
)


def _template(tmp_path: Path, text: str = QUEUES_TEMPLATE) -> Template:
    (tmp_path / "template.yaml").write_text(text)
    return load_template(tmp_path / "template.yaml")


def _queue_of(template: Template, function: str) -> QueueResource:
    [trigger] = template.function(function).queues
    return template.queue_for(trigger)


def test_a_getatt_queue_is_its_queue_name_without_the_stack_prefix_with_its_redrive_rules(
    tmp_path: Path,
) -> None:
    # GIVEN a function triggered by !GetAtt PrepareQueue.Arn, whose QueueName is !Sub'd
    template = _template(tmp_path)

    # WHEN the local runtime resolves its SQS event
    queue = _queue_of(template, "PrepareFunction")

    # THEN it reads the stream of the name code publishes to, with the queue's own rules
    assert queue == QueueResource(
        logical_id="PrepareQueue",
        name="steps-prepare",
        visibility_timeout_s=60,
        max_receive_count=4,
        dead_letter_queue="steps-prepare-dlq",
        stack_prefixed=True,
    )
    assert template.function("PrepareFunction").queues[0].batch_size == 10  # SQS's default


def test_a_ref_queue_without_a_queue_name_is_named_after_its_logical_id(tmp_path: Path) -> None:
    template = _template(tmp_path)

    queue = _queue_of(template, "GenerateFunction")

    # The redrive policy may also be JSON text, with the count as a string.
    assert queue == QueueResource(
        logical_id="GenerateQueue",
        name="GenerateQueue",
        visibility_timeout_s=None,
        max_receive_count=2,
        dead_letter_queue="dead",
    )
    assert template.function("GenerateFunction").queues[0].batch_size == 1


def test_a_queue_named_by_its_arn_is_the_arn_name_without_the_stack_prefix(
    tmp_path: Path,
) -> None:
    template = _template(tmp_path)

    queue = _queue_of(template, "StoreFunction")

    assert queue == QueueResource(logical_id="steps-store", name="steps-store")


def test_every_queue_of_the_template_is_listed_under_its_local_name(tmp_path: Path) -> None:
    template = _template(tmp_path)

    assert [(queue.logical_id, queue.name) for queue in template.queues] == [
        ("PrepareQueue", "steps-prepare"),
        ("PrepareDeadLetterQueue", "steps-prepare-dlq"),
        ("GenerateQueue", "GenerateQueue"),
    ]


def test_an_sqs_event_referencing_something_other_than_a_queue_is_refused(
    tmp_path: Path,
) -> None:
    text = QUEUES_TEMPLATE.replace("!Ref GenerateQueue", "!Ref QueueArnParameter")
    template = _template(tmp_path, text)
    [trigger] = template.function("GenerateFunction").queues

    with pytest.raises(TemplateError, match="QueueArnParameter, which is no AWS::SQS::Queue"):
        template.queue_for(trigger)


def test_a_queue_name_with_another_substitution_cannot_be_resolved_locally(
    tmp_path: Path,
) -> None:
    text = QUEUES_TEMPLATE.replace("${AWS::StackName}-steps-prepare-dlq", "${Stage}-dead")

    with pytest.raises(TemplateError, match=r"PrepareDeadLetterQueue: .* cannot be used locally"):
        _template(tmp_path, text)


def test_a_visibility_timeout_and_a_function_timeout_may_come_from_mappings(
    tmp_path: Path,
) -> None:
    # GIVEN a queue and a function whose numbers are !FindInMap, and one with no Timeout
    text = QUEUES_TEMPLATE.replace(
        "Resources:\n",
        "Mappings:\n  Steps:\n    Function: {Timeout: 30, QueueVisibilityTimeout: 180}\n"
        "Globals:\n  Function:\n    Timeout: 10\nResources:\n",
    ).replace(
        "      VisibilityTimeout: 60\n",
        "      VisibilityTimeout: !FindInMap [Steps, Function, QueueVisibilityTimeout]\n",
    )
    text = text.replace(
        "      CodeUri: prepare/\n",
        "      CodeUri: prepare/\n      Timeout: !FindInMap [Steps, Function, Timeout]\n",
    )

    # WHEN the template is read
    template = _template(tmp_path, text)

    # THEN the mapped values are read, and Globals' Timeout fills in where a function has none
    assert _queue_of(template, "PrepareFunction").visibility_timeout_s == 180
    assert template.function("PrepareFunction").timeout_s == 30
    assert template.function("GenerateFunction").timeout_s == 10


def test_a_function_without_any_timeout_has_sams_default(tmp_path: Path) -> None:
    template = _template(tmp_path)

    assert template.function("PrepareFunction").timeout_s == 3


def test_a_find_in_map_naming_no_value_is_refused(tmp_path: Path) -> None:
    text = QUEUES_TEMPLATE.replace(
        "      VisibilityTimeout: 60\n", "      VisibilityTimeout: !FindInMap [Steps, Nope, X]\n"
    )

    with pytest.raises(TemplateError, match="PrepareQueue: no mapping value"):
        _template(tmp_path, text)
