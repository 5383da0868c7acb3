"""The rules every SQS queue of template.yaml follows; the descriptor tests hold the template
to them, and tests/unit/test_queue_rules.py shows each rule catching a bad queue.

A queue that is not itself a dead-letter queue (the target of a RedrivePolicy, or a queue
named `<name>-dlq` with no queue `<name>`: only failures go there, e.g. AsyncFailureQueue):
- has a RedrivePolicy to a queue of the template named `<its name>-dlq`, with
  maxReceiveCount of at least 1;
- has a VisibilityTimeout of at least six times the Timeout of every function it triggers
  (AWS's guidance for SQS event sources), or, while no function consumes it, six times the
  step timeout the template declares in Mappings (`Steps.Function.Timeout`).
Every queue's QueueName is `!Sub "${AWS::StackName}-<name>"`, so stacks never share a queue.
"""

from __future__ import annotations

from collections import defaultdict

from scripts.local.sam import FunctionSpec, QueueResource, Template

#: VisibilityTimeout >= this many times the consuming function's Timeout.
VISIBILITY_FACTOR = 6
#: SQS's VisibilityTimeout when the queue sets none.
SQS_DEFAULT_VISIBILITY_TIMEOUT_S = 30
#: Where the template declares the step functions' Timeout (Mappings: Steps/Function/Timeout).
STEP_TIMEOUT_KEYS = ("Steps", "Function", "Timeout")
DEAD_LETTER_SUFFIX = "-dlq"


def queue_problems(template: Template) -> list[str]:
    """Every broken rule, one line each naming the queue; empty when all queues comply."""
    consumers = _consumers(template)
    problems = [
        f'{queue.logical_id}: QueueName must be !Sub "${{AWS::StackName}}-{queue.name}"'
        for queue in template.queues
        if not queue.stack_prefixed
    ]
    for queue in live_queues(template):
        problems.extend(_redrive_problems(template, queue))
        problems.extend(_visibility_problems(template, queue, consumers[queue.name]))
    return problems


def live_queues(template: Template) -> list[QueueResource]:
    """The template's queues that are not the dead-letter queue of another, nor named as one
    without a source queue (`<name>-dlq`: where failed asynchronous invocations go)."""
    dead_letter_names = {queue.dead_letter_queue for queue in template.queues}
    names = {queue.name for queue in template.queues}
    return [
        queue
        for queue in template.queues
        if queue.name not in dead_letter_names and not _failure_destination(queue.name, names)
    ]


def _failure_destination(name: str, names: set[str]) -> bool:
    return name.endswith(DEAD_LETTER_SUFFIX) and name.removesuffix(DEAD_LETTER_SUFFIX) not in names


def _consumers(template: Template) -> dict[str, list[FunctionSpec]]:
    """The functions each queue (by local name) triggers through an `SQS` event."""
    consumers: dict[str, list[FunctionSpec]] = defaultdict(list)
    for spec in template.functions:
        for trigger in spec.queues:
            consumers[template.queue_for(trigger).name].append(spec)
    return consumers


def _redrive_problems(template: Template, queue: QueueResource) -> list[str]:
    if queue.dead_letter_queue is None:
        return [f"{queue.logical_id}: no RedrivePolicy (deadLetterTargetArn, maxReceiveCount)"]
    problems = []
    expected = queue.name + DEAD_LETTER_SUFFIX
    if queue.dead_letter_queue not in {other.name for other in template.queues}:
        problems.append(
            f"{queue.logical_id}: the dead-letter queue {queue.dead_letter_queue} is no queue "
            "of the template"
        )
    elif queue.dead_letter_queue != expected:
        problems.append(
            f"{queue.logical_id}: the dead-letter queue is {queue.dead_letter_queue}, "
            f"expected {expected}"
        )
    if queue.max_receive_count is None or queue.max_receive_count < 1:
        problems.append(
            f"{queue.logical_id}: maxReceiveCount must be at least 1, is {queue.max_receive_count}"
        )
    return problems


def _visibility_problems(
    template: Template, queue: QueueResource, consumers: list[FunctionSpec]
) -> list[str]:
    visibility = queue.visibility_timeout_s
    if visibility is None:
        visibility = SQS_DEFAULT_VISIBILITY_TIMEOUT_S
    if consumers:
        timeouts = {spec.logical_id: spec.timeout_s for spec in consumers}
    else:
        step_timeout = _step_timeout(template)
        if step_timeout is None:
            return [
                f"{queue.logical_id}: no function consumes it and the template declares no step "
                f"timeout (Mappings {'/'.join(STEP_TIMEOUT_KEYS)})"
            ]
        timeouts = {"the declared step timeout": step_timeout}
    return [
        f"{queue.logical_id}: VisibilityTimeout {visibility} s is under {VISIBILITY_FACTOR} x "
        f"{timeout} s ({what})"
        for what, timeout in timeouts.items()
        if visibility < VISIBILITY_FACTOR * timeout
    ]


def _step_timeout(template: Template) -> int | None:
    value: object = template.mappings
    for key in STEP_TIMEOUT_KEYS:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return int(value) if isinstance(value, int | str) else None
