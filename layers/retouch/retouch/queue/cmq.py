"""The Tencent Cloud publisher: `publish` through TDMQ's CMQ API (SendCmqMsg, v20200217), and
`depth` (DescribeCmqQueueDetail).

On SCF a step function is triggered by its CMQ queue (`scf_events.py` reads the trigger's
records), so the platform consumes: this adapter publishes and answers `depth` (TDMQ's
`DescribeCmqQueueDetail` counts); the other operations of the port raise NotSupported. Queue
`steps-prepare` is the CMQ queue `<RETOUCH_QUEUE_NAME_PREFIX>steps-prepare`. The Tencent SDK
(provided by SCF's Python runtime) is imported and its client created on first use.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection
from typing import Any, Literal

from retouch.core.settings import Settings
from retouch.queue import messages
from retouch.queue.depth import QueueDepth
from retouch.queue.messages import DeadMessage, Delivery, NotSupported, UnknownQueue
from retouch.queue.tencent_api import client_profile, tencent_credential

#: TencentCloudSDKException codes that mean the queue does not exist.
_MISSING_QUEUE_CODES = ("ResourceNotFound", "ResourceNotExist", "ResourceUnavailable.QueueNotFound")


class CmqPublisher:
    """`QueuePort` for Tencent SCF: publishes to TDMQ CMQ queues; SCF triggers consume."""

    def __init__(
        self,
        *,
        region: str,
        prefix: str = "",
        endpoint: str | None = None,
    ) -> None:
        self.region = region
        self.prefix = prefix
        self._endpoint = endpoint
        self._client: Any = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CmqPublisher:
        return cls(
            region=settings.queue_tdmq_region,
            prefix=settings.queue_name_prefix,
            endpoint=settings.queue_tdmq_endpoint,
        )

    def publish(self, queue: str, body: dict[str, Any], *, delay_s: float = 0) -> str:
        """Send `body`; returns CMQ's message id, the `msgId` the trigger will deliver."""
        from tencentcloud.tdmq.v20200217 import models

        request = models.SendCmqMsgRequest()
        request.MsgContent = messages.encode_body(body)
        # CMQ counts whole seconds: never earlier than asked.
        request.DelaySeconds = math.ceil(messages.check_delay(delay_s))
        request.QueueName = self.prefix + messages.check_queue_name(queue)
        return str(self._call("SendCmqMsg", request, queue).MsgId)

    def receive(self, queue: str, *, max_messages: int = 10, wait_s: float = 0) -> list[Delivery]:
        raise _consumed_by_triggers("receive")

    def ack(self, delivery: Delivery) -> bool:
        raise _consumed_by_triggers("ack")

    def retry_later(self, delivery: Delivery, delay_s: float = 0) -> bool:
        raise _consumed_by_triggers("retry_later")

    def list_dead(self, queue: str, limit: int = 100) -> list[DeadMessage]:
        raise _consumed_by_triggers("list_dead")

    def redrive(self, queue: str, message_ids: Collection[str] | Literal["all"]) -> int:
        raise _consumed_by_triggers("redrive")

    def depth(self, queue: str) -> QueueDepth:
        """TDMQ's counts (`DescribeCmqQueueDetail`, approximate): `waiting` is the queue's
        active, in-flight (inactive) and delayed messages; `dead` the same of the dead-letter
        queue its policy names (0 without one). The oldest message's age is not answered."""
        detail = self._describe(queue, self.prefix + messages.check_queue_name(queue))
        policy = getattr(detail, "DeadLetterPolicy", None)
        dead_queue = getattr(policy, "DeadLetterQueue", None) if policy else None
        dead = _waiting(self._describe(queue, dead_queue)) if dead_queue else 0
        return QueueDepth(waiting=_waiting(detail), dead=dead)

    def _describe(self, queue: str, name: str) -> Any:
        from tencentcloud.tdmq.v20200217 import models

        request = models.DescribeCmqQueueDetailRequest()
        request.QueueName = name
        return self._call("DescribeCmqQueueDetail", request, queue).QueueDescribe

    def _call(self, action: str, request: Any, queue: str) -> Any:
        """`action` of the TDMQ API; a queue that does not exist is UnknownQueue."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )

        try:
            return getattr(self._tdmq(), action)(request)
        except TencentCloudSDKException as exc:
            if str(exc.get_code() or "").startswith(_MISSING_QUEUE_CODES):
                raise UnknownQueue(queue, request.QueueName) from exc
            raise

    def _tdmq(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._new_client()
        return self._client

    def _new_client(self) -> Any:
        from tencentcloud.tdmq.v20200217.tdmq_client import TdmqClient

        return TdmqClient(tencent_credential(), self.region, client_profile(self._endpoint))


def _waiting(detail: Any) -> int:
    """Active + inactive (being consumed) + delayed messages of a queue's detail (a count
    the API answers as null is 0)."""
    names = ("ActiveMsgNum", "InactiveMsgNum", "DelayMsgNum")
    return sum(int(getattr(detail, name, None) or 0) for name in names)


def _consumed_by_triggers(operation: str) -> NotSupported:
    return NotSupported(
        f"{operation} is not available with RETOUCH_QUEUE_BACKEND=cmq: on Tencent SCF the CMQ "
        "trigger consumes the queue (retouch.queue.scf_events), and dead letters are managed "
        "in TDMQ"
    )
