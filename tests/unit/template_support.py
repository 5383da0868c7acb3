"""Pieces of SAM templates for the tests of scripts.local.sam and scripts.local.queue_rules."""

from __future__ import annotations


def queue_with_dead_letters(
    title: str, name: str, *, visibility: str, max_receive_count: int = 5
) -> str:
    """`<title>Queue` named `name` (stack-prefixed), redriving to `<title>DeadLetterQueue`
    named `<name>-dlq`, as resources of a template."""
    return f"""  {title}Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${{AWS::StackName}}-{name}"
      VisibilityTimeout: {visibility}
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt {title}DeadLetterQueue.Arn
        maxReceiveCount: {max_receive_count}
  {title}DeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${{AWS::StackName}}-{name}-dlq"
"""


def sqs_function(logical_id: str, code_uri: str, queue: str) -> str:
    """A function whose one `SQS` event (`Steps`) reads `queue`, e.g. `!GetAtt Q.Arn`."""
    return f"""  {logical_id}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code_uri}
      Handler: app.handler
      Events:
        Steps: {{Type: SQS, Properties: {{Queue: {queue}}}}}
"""
