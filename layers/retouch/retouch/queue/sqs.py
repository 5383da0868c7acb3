"""The SQS adapter (AWS): `QueuePort` on standard queues made by the deploy template.

Queue `steps-prepare` is the SQS queue `<RETOUCH_QUEUE_NAME_PREFIX>steps-prepare`, its
dead-letter queue `<prefix>steps-prepare-dlq` (the source queue's RedrivePolicy moves a message
there after maxReceiveCount receives). Our stable message id travels in the message attribute
`retouch-id`, so it survives redeliveries and redrives; SQS's own MessageId does not.

boto3 is imported and its client created on first use: Lambda's runtime provides boto3, and a
function that never touches the queue never pays for it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Literal

from retouch.core.settings import Settings
from retouch.queue import messages, sqs_records
from retouch.queue.depth import QueueDepth, sqs_depth
from retouch.queue.messages import DeadMessage, Delivery, InvalidMessage, UnknownQueue
from retouch.queue.sqs_records import ID_ATTRIBUTE, dead_message, queue_message

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

DEAD_LETTER_SUFFIX = "-dlq"
#: SQS's limits: a batch, a long poll, a visibility timeout.
MAX_BATCH = 10
MAX_WAIT_S = 20
MAX_VISIBILITY_S = 43_200
#: A listing or a redrive hides the dead messages it read for this long at most; it makes the
#: ones it leaves visible again when it ends.
SCAN_VISIBILITY_S = 30
#: A scan's receives long-poll this long: a short poll samples only some of SQS's servers and
#: may come back empty while messages remain.
SCAN_WAIT_S = 1
#: Errors of StartMessageMoveTask after which redrive moves the messages itself (the endpoint
#: does not offer the action, e.g. moto; or refuses it for this queue).
_MOVE_TASK_UNAVAILABLE = {"InvalidAction", "UnsupportedOperation", "NotImplemented"}

_SYSTEM_ATTRIBUTES: list[Literal["ApproximateReceiveCount", "SentTimestamp"]] = [
    "ApproximateReceiveCount",
    "SentTimestamp",
]


class SqsQueue:
    """`QueuePort` on SQS. Thread-safe like the boto3 client under it."""

    def __init__(
        self,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        client: SQSClient | None = None,
        consumer: str | None = None,
    ) -> None:
        self.prefix = prefix
        self.consumer = consumer or messages.new_consumer_name()
        self._endpoint_url = endpoint_url
        self._client = client
        self._client_lock = threading.Lock()
        self._urls: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> SqsQueue:
        return cls(prefix=settings.queue_name_prefix, endpoint_url=settings.queue_sqs_endpoint_url)

    def publish(self, queue: str, body: dict[str, Any], *, delay_s: float = 0) -> str:
        text = messages.encode_body(body)
        delay = math.ceil(messages.check_delay(delay_s))  # SQS counts whole seconds: never earlier
        message_id = messages.new_message_id()
        self._send(self._url(queue), text, message_id, delay_s=delay)
        return message_id

    def receive(self, queue: str, *, max_messages: int = 10, wait_s: float = 0) -> list[Delivery]:
        if max_messages < 1:
            raise ValueError("max_messages is at least 1")
        url = self._url(queue)
        deadline = time.monotonic() + wait_s
        while True:
            # One long poll lasts at most 20 s (SQS's limit); a longer wait polls again.
            wait = min(MAX_WAIT_S, math.ceil(max(0.0, deadline - time.monotonic())))
            received = self._receive(url, min(max_messages, MAX_BATCH), wait_s=wait)
            if received or time.monotonic() >= deadline:
                return [self._delivery(queue, raw) for raw in received]

    def ack(self, delivery: Delivery) -> bool:
        client, url = self._sqs(), self._url(delivery.queue)
        try:
            client.delete_message(QueueUrl=url, ReceiptHandle=delivery.receipt)
        except client.exceptions.ReceiptHandleIsInvalid:
            return False
        return True

    def retry_later(self, delivery: Delivery, delay_s: float = 0) -> bool:
        if not 0 <= delay_s <= MAX_VISIBILITY_S:
            raise InvalidMessage(f"a retry delay is 0-{MAX_VISIBILITY_S} seconds (SQS's limit)")
        client = self._sqs()
        try:
            client.change_message_visibility(
                QueueUrl=self._url(delivery.queue),
                ReceiptHandle=delivery.receipt,
                VisibilityTimeout=math.ceil(delay_s),
            )
        except (client.exceptions.ReceiptHandleIsInvalid, client.exceptions.MessageNotInflight):
            return False
        return True

    def list_dead(self, queue: str, limit: int = 100) -> list[DeadMessage]:
        """Up to `limit` dead messages, read without consuming them. SQS has no peek and no
        order: the messages are received (hidden for the listing's duration, so a concurrent
        redrive skips them) and made visible again at the end; which ones come first is SQS's
        choice, and every listing counts one more receive of each."""
        dead: list[DeadMessage] = []

        def collect(raw: MessageTypeDef) -> bool:
            dead.append(dead_message(raw))
            return False

        self._scan_dead(queue, collect, limit=limit)
        return dead

    def redrive(self, queue: str, message_ids: Collection[str] | Literal["all"]) -> int:
        if message_ids == "all":
            started = self._start_move_task(queue)
            if started is not None:
                return started
        wanted = None if message_ids == "all" else set(message_ids)
        source, dead_letters = self._url(queue), self._url(queue + DEAD_LETTER_SUFFIX)
        moved = 0

        def move(raw: MessageTypeDef) -> bool:
            nonlocal moved
            message_id = sqs_records.message_id(raw)
            if wanted is not None and message_id not in wanted:
                return False
            # Sent before the dead letter is deleted: a crash in between leaves a duplicate
            # (at least once), never a loss. A new message starts a fresh receive count.
            self._send(source, raw.get("Body", ""), message_id, delay_s=0)
            self._sqs().delete_message(QueueUrl=dead_letters, ReceiptHandle=raw["ReceiptHandle"])
            moved += 1
            return True

        self._scan_dead(queue, move)
        return moved

    def depth(self, queue: str) -> QueueDepth:
        return sqs_depth(self._sqs(), self._url(queue), self._url(queue + DEAD_LETTER_SUFFIX))

    def _start_move_task(self, queue: str) -> int | None:
        """Redrive everything with SQS's own move task; returns the approximate number of
        messages it moves (asynchronously), or None where the endpoint does not offer it."""
        from botocore.exceptions import ClientError

        client = self._sqs()
        dead_letters = self._url(queue + DEAD_LETTER_SUFFIX)
        try:
            attributes = client.get_queue_attributes(
                QueueUrl=dead_letters, AttributeNames=["QueueArn", "ApproximateNumberOfMessages"]
            )["Attributes"]
            source_arn = client.get_queue_attributes(
                QueueUrl=self._url(queue), AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            client.start_message_move_task(
                SourceArn=attributes["QueueArn"], DestinationArn=source_arn
            )
        except ClientError as exc:
            if not _move_task_unavailable(exc):
                raise
            return None
        return int(attributes.get("ApproximateNumberOfMessages", 0))

    def _scan_dead(
        self, queue: str, visit: Callable[[MessageTypeDef], bool], *, limit: int | None = None
    ) -> None:
        """Receive the dead-letter queue's messages and `visit` each once; those `visit` did
        not consume (it returned False) become visible again when the scan ends."""
        url = self._url(queue + DEAD_LETTER_SUFFIX)
        seen: set[str] = set()
        kept: list[str] = []
        try:
            while limit is None or len(seen) < limit:
                batch = MAX_BATCH if limit is None else min(MAX_BATCH, limit - len(seen))
                received = self._receive(
                    url, batch, wait_s=SCAN_WAIT_S, visibility_s=SCAN_VISIBILITY_S
                )
                if not received:
                    return
                for raw in received:
                    sqs_id = raw.get("MessageId", "")
                    # A standard queue may hand out a message twice: visit it once.
                    if sqs_id in seen or not visit(raw):
                        kept.append(raw["ReceiptHandle"])
                    seen.add(sqs_id)
        finally:
            self._make_visible(url, kept)

    def _make_visible(self, url: str, receipts: list[str]) -> None:
        for start in range(0, len(receipts), MAX_BATCH):
            chunk = receipts[start : start + MAX_BATCH]
            self._sqs().change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                    for index, receipt in enumerate(chunk)
                ],
            )

    def _send(self, url: str, text: str, message_id: str, *, delay_s: int) -> None:
        self._sqs().send_message(
            QueueUrl=url,
            MessageBody=text,
            DelaySeconds=delay_s,
            MessageAttributes={ID_ATTRIBUTE: {"DataType": "String", "StringValue": message_id}},
        )

    def _receive(
        self, url: str, count: int, *, wait_s: int, visibility_s: int | None = None
    ) -> list[MessageTypeDef]:
        extra: dict[str, Any] = {} if visibility_s is None else {"VisibilityTimeout": visibility_s}
        response = self._sqs().receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=_SYSTEM_ATTRIBUTES,
            MessageAttributeNames=[ID_ATTRIBUTE],
            **extra,
        )
        return response.get("Messages", [])

    def _delivery(self, queue: str, raw: MessageTypeDef) -> Delivery:
        return Delivery(
            queue=queue,
            receipt=raw["ReceiptHandle"],
            consumer=self.consumer,
            message=queue_message(raw),
        )

    def _url(self, queue: str) -> str:
        """The queue's URL (GetQueueUrl once per name); `queue` may end in `-dlq`."""
        url = self._urls.get(queue)
        if url is None:
            messages.check_queue_name(queue)
            client = self._sqs()
            name = self.prefix + queue
            try:
                url = client.get_queue_url(QueueName=name)["QueueUrl"]
            except client.exceptions.QueueDoesNotExist:
                raise UnknownQueue(queue, name) from None
            self._urls[queue] = url
        return url

    def _sqs(self) -> SQSClient:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    # The read timeout must outlast a 20 s long poll.
                    config = Config(connect_timeout=2, read_timeout=MAX_WAIT_S + 10)
                    self._client = boto3.client(
                        "sqs", endpoint_url=self._endpoint_url, config=config
                    )
        return self._client


def _move_task_unavailable(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.get("Code", "") in _MOVE_TASK_UNAVAILABLE or status >= 500
