"""The Tencent SCF queue: each message is an asynchronous invocation of its step function.

Queue `steps-prepare` is the SCF function `<RETOUCH_QUEUE_NAME_PREFIX>steps-prepare`;
`publish` calls SCF's `Invoke` (TencentCloud API, TC3-signed) with `InvocationType=Event` and
the message's envelope as the event, and SCF queues it and runs the function (at least once,
retried by the platform when the function crashes). No broker stands in between, so what a
broker would do is done here, in Redis (`ScfLedger`, docs/queue-tencent.md):

- a delayed message is held until due and sent by `release_due`, which the outbox relay's
  timer runs: never early, late by at most the timer's period;
- the step function counts each arrival; a failed message is invoked again after the
  visibility timeout, and one that arrived RETOUCH_QUEUE_MAX_DELIVERIES times and still fails
  (or crashes) becomes a dead letter, which `list_dead` shows and `redrive` sends again.

`receive`, `ack` and `retry_later` raise NotSupported: SCF delivers, nothing polls.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection
from typing import Any, Literal

from retouch.core.redis import get_redis
from retouch.core.settings import Settings
from retouch.queue import messages
from retouch.queue.depth import QueueDepth
from retouch.queue.messages import DeadMessage, Delivery, NotSupported, UnknownQueue
from retouch.queue.scf_ledger import Envelope, ScfLedger
from retouch.queue.tencent_api import client_profile, tencent_credential

#: The SDK error code of an Invoke naming no function.
_MISSING_FUNCTION_CODES = ("ResourceNotFound",)
#: A claimed delayed message is hidden this long from other relays, then claimed again.
RELEASE_LEASE_S = 60
RELEASE_BATCH = 100


def _now_ms() -> int:
    return int(time.time() * 1000)


class ScfInvokeQueue:
    """`QueuePort` for Tencent SCF: publishes by asynchronous invocation, keeps delays and dead
    letters in Redis; the step functions consume (`scf_events.run_scf_batch`)."""

    def __init__(
        self,
        *,
        region: str,
        ledger: ScfLedger,
        prefix: str = "",
        namespace: str = "default",
        qualifier: str = "$LATEST",
        endpoint: str | None = None,
        max_deliveries: int = 3,
        retry_delay_s: float = 30.0,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.region, self.prefix = region, prefix
        self.namespace, self.qualifier = namespace, qualifier
        self.ledger = ledger
        self.max_deliveries = max_deliveries
        self.retry_delay_s = min(retry_delay_s, messages.MAX_DELAY_S)
        self._endpoint = endpoint
        self._clock_ms = clock_ms
        self._client: Any = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ScfInvokeQueue:
        return cls(
            region=settings.queue_scf_region,
            ledger=ScfLedger(get_redis()),
            prefix=settings.queue_name_prefix,
            namespace=settings.queue_scf_namespace,
            qualifier=settings.queue_scf_qualifier,
            endpoint=settings.queue_scf_endpoint,
            max_deliveries=settings.queue_max_deliveries,
            retry_delay_s=settings.queue_visibility_timeout_s,
        )

    def publish(self, queue: str, body: dict[str, Any], *, delay_s: float = 0) -> str:
        """Invoke the queue's function with `body` now, or hold it `delay_s` (rounded up to
        the millisecond: never early). Returns the message id the function will receive."""
        messages.check_delay(delay_s)
        envelope = Envelope(
            queue=messages.check_queue_name(queue),
            msgId=messages.new_message_id(),
            msgBody=messages.encode_body(body),
            sentAtMs=self._clock_ms(),
        )
        self.send(envelope, delay_s=delay_s)
        return envelope.msgId

    def send(self, envelope: Envelope, *, delay_s: float = 0) -> None:
        """Invoke now, or hold until `delay_s` from now (retries keep the message's id)."""
        if delay_s > 0:
            self.ledger.hold(envelope, due_ms=self._clock_ms() + math.ceil(delay_s * 1000))
        else:
            self._invoke(envelope)

    def release_due(self) -> int:
        """Invoke every held message that is due (the relay's timer calls this); returns how
        many went out. A failed invoke stays held and is tried again after the lease."""
        released = 0
        while True:
            due = self.ledger.claim_due(
                now_ms=self._clock_ms(), lease_ms=RELEASE_LEASE_S * 1000, limit=RELEASE_BATCH
            )
            for envelope in due:
                self._invoke(envelope)
                self.ledger.release(envelope)
                released += 1
            if len(due) < RELEASE_BATCH:
                return released

    def list_dead(self, queue: str, limit: int = 100) -> list[DeadMessage]:
        return [dead for _, dead in self.ledger.dead(queue)[:limit]]

    def depth(self, queue: str) -> QueueDepth:
        """The dead letters (in Redis); what SCF holds in its asynchronous invocation queue is
        not visible to the API, so `waiting` is unknown."""
        return QueueDepth(waiting=None, dead=self.ledger.dead_count(queue))

    def redrive(self, queue: str, message_ids: Collection[str] | Literal["all"]) -> int:
        """Invoke the named dead messages again with a fresh delivery count."""
        wanted = None if message_ids == "all" else set(message_ids)
        moved = 0
        for envelope, _ in self.ledger.dead(queue):
            if wanted is None or envelope.msgId in wanted:
                self.ledger.forget_deliveries(envelope)
                self._invoke(envelope)
                self.ledger.unbury(envelope)
                moved += 1
        return moved

    def receive(self, queue: str, *, max_messages: int = 10, wait_s: float = 0) -> list[Delivery]:
        raise _delivered_by_scf("receive")

    def ack(self, delivery: Delivery) -> bool:
        raise _delivered_by_scf("ack")

    def retry_later(self, delivery: Delivery, delay_s: float = 0) -> bool:
        raise _delivered_by_scf("retry_later")

    def function_name(self, queue: str) -> str:
        return self.prefix + messages.check_queue_name(queue)

    def _invoke(self, envelope: Envelope) -> str:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.scf.v20180416 import models

        request = models.InvokeRequest()
        request.FunctionName = self.function_name(envelope.queue)
        request.InvocationType = "Event"
        request.Namespace = self.namespace
        request.Qualifier = self.qualifier
        request.ClientContext = envelope.event_text()
        try:
            response = self._scf().Invoke(request)
        except TencentCloudSDKException as exc:
            if str(exc.get_code() or "").startswith(_MISSING_FUNCTION_CODES):
                raise UnknownQueue(envelope.queue, request.FunctionName) from exc
            raise
        return str(getattr(response.Result, "FunctionRequestId", "") or "")

    def _scf(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    from tencentcloud.scf.v20180416.scf_client import ScfClient

                    profile = client_profile(self._endpoint)
                    self._client = ScfClient(tencent_credential(), self.region, profile)
        return self._client


def _delivered_by_scf(operation: str) -> NotSupported:
    return NotSupported(
        f"{operation} is not available with RETOUCH_QUEUE_BACKEND=scf: SCF invokes the step "
        "function with each message (retouch.queue.scf_events); list_dead and redrive work"
    )
