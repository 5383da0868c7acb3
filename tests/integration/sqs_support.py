"""A moto SQS server on a free loopback port, and queues made as the deploy template makes them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer
from mypy_boto3_sqs import SQSClient

from retouch.queue import SqsQueue
from scripts.local.servers import free_port

#: Credentials and region for boto3: moto accepts anything, and nothing leaves the machine.
AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
#: SQS counts visibility in whole seconds; one second keeps redelivery tests short.
VISIBILITY_S = 1


@dataclass(frozen=True)
class MotoSqs:
    endpoint_url: str
    client: SQSClient

    def new_queue(self, *, max_receive_count: int = 3) -> tuple[SqsQueue, str]:
        """An adapter with a prefix of its own and the queue `steps` it can use: a source queue
        whose RedrivePolicy sends a message to `<prefix>steps-dlq` after `max_receive_count`
        receives (what template.yaml declares)."""
        prefix = f"t{uuid.uuid4().hex[:10]}-"
        dead_letters = self.client.create_queue(QueueName=f"{prefix}steps-dlq")["QueueUrl"]
        arn = self.client.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        policy = {"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive_count)}
        self.client.create_queue(
            QueueName=f"{prefix}steps",
            Attributes={
                "VisibilityTimeout": str(VISIBILITY_S),
                "RedrivePolicy": json.dumps(policy),
            },
        )
        return SqsQueue(prefix=prefix, endpoint_url=self.endpoint_url), "steps"


@contextmanager
def moto_sqs() -> Iterator[MotoSqs]:
    """A moto server on 127.0.0.1 with the AWS variables set, stopped on the way out."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint_url = f"http://{host}:{port}"
            yield MotoSqs(endpoint_url, boto3.client("sqs", endpoint_url=endpoint_url))
        finally:
            server.stop()
