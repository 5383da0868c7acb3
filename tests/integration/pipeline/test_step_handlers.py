"""The step functions' queue handlers as the platforms call them: their log lines name the
function, the platform's request id and the cold start, as the HTTP functions' do."""

from __future__ import annotations

import threading

from retouch.bootstrap.steps import handle_step_event
from retouch.core.logging import logger
from scripts.local.lambda_runtime import FakeLambdaContext
from tests.conftest import LogLines, Stack, load_event


def test_a_step_invocations_log_lines_name_the_function_and_its_request(
    stack: Stack, log_lines: LogLines
) -> None:
    # GIVEN the sample SQS event of the generate step (its task does not exist)
    event = load_event("generate_step_aws_sqs.json")
    context = FakeLambdaContext.for_function("GenerateStepFunction", "step-request-0001")

    # WHEN the step function handles it
    answer = handle_step_event(event, context)

    # THEN the message is dropped, and the line saying so names the invocation
    assert answer == {"batchItemFailures": []}
    (line,) = log_lines.with_message("step message for no task")
    assert line["function_name"] == "GenerateStepFunction"
    assert line["function_request_id"] == "step-request-0001"
    assert isinstance(line["cold_start"], bool)


def test_an_invocations_log_keys_stay_in_its_own_thread(stack: Stack, log_lines: LogLines) -> None:
    # GIVEN a step invocation in another thread (as the local runtime runs its consumers)
    event = load_event("generate_step_aws_sqs.json")
    context = FakeLambdaContext.for_function("GenerateStepFunction", "step-request-0002")
    worker = threading.Thread(target=handle_step_event, args=(event, context))
    worker.start()
    worker.join()

    # WHEN this thread logs
    logger.info("probe from another thread")

    # THEN its line does not carry the other invocation's keys
    (probe,) = log_lines.with_message("probe from another thread")
    assert probe.get("function_request_id") != "step-request-0002"
    (dropped,) = log_lines.with_message("step message for no task")
    assert dropped["function_request_id"] == "step-request-0002"
