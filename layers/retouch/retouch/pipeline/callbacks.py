"""Provider callbacks (`POST /v1/callbacks/{provider}/{token}`): a callback is only a prompt,
and whoever sends one learns nothing from the answer.

Each vendor job is submitted with a callback URL carrying a secret token of its own
(`jobs.new_callback_token`; only its SHA-256 is kept, beside the job's handle). A callback is
heard when the provider's adapter reads it (`parse_callback`: a signature over timestamp and
body for vendors that sign; for those that do not, only the job's handle) and the URL's token
matches that job's digest, compared in constant time. Nothing is written before both hold.

Then, in one unit of work: a replayed event id changes nothing (`provider_events`); the
step's `prompted_at` lets one prompt per job through per RETOUCH_CALLBACK_PROMPT_INTERVAL_S,
however many callbacks arrive and whatever their bodies (a callback that prompts nothing is
rolled back, its event id with it, so one job adds at most one `provider_events` row per
window); the prompt is a `generate` message marked `prompt`, and the step asks the vendor
itself: nothing in a callback body is ever taken as the job's result.

The route answers every callback the same empty 204; what happened goes to the log line
`callback` and the `Callbacks` metric (by outcome) only.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

from retouch.core.logging import logger
from retouch.core.metrics import emit
from retouch.core.time import Clock, utc_now
from retouch.pipeline.engine import Engine
from retouch.pipeline.jobs import callback_token_digest
from retouch.pipeline.messages import StepMessage, step_queue
from retouch.pipeline.repository import StepRepository
from retouch.providers.port import InvalidCallback
from retouch.queue.outbox import enqueue_in, publish_committed
from retouch.tasks.repository import TaskRepository

#: What became of a callback (log and metric only, never the answer).
Outcome = Literal[
    "prompted",  # the waiting step was sent a poll
    "debounced",  # another callback prompted this job within the interval
    "replayed",  # the event id was heard before
    "ignored",  # the job's step no longer waits on it (finished, retried, task gone)
    "bad_token",  # no token, or not this job's
    "unknown_job",  # no step waits on the job the body names
    "unverified",  # the adapter refused it (signature, timestamp, shape)
    "unknown_provider",  # no enabled provider by that key
]

#: Longer than any token we issue (`token_urlsafe(32)`: 43 characters); longer is refused unread.
MAX_TOKEN_LENGTH = 128


def receive_callback(
    engine: Engine,
    *,
    provider_key: str,
    token: str,
    headers: Mapping[str, str],
    body: bytes,
    prompt_interval_s: float = 10.0,
    clock: Clock = utc_now,
) -> Outcome:
    """Apply one callback (`token`: the one its URL carries) and return what happened, for
    the log and the `Callbacks` metric. Never raises for anything a caller can send."""
    known = engine.context.providers.get(provider_key) is not None
    outcome = _apply(
        engine,
        provider_key=provider_key,
        token=token,
        headers=headers,
        body=body,
        prompt_interval_s=prompt_interval_s,
        clock=clock,
    )
    # A caller's provider key is logged only when it names one of ours.
    logger.info("callback", extra={"provider": provider_key if known else "?", "outcome": outcome})
    emit("Callbacks", 1, outcome=outcome)
    return outcome


def _apply(
    engine: Engine,
    *,
    provider_key: str,
    token: str,
    headers: Mapping[str, str],
    body: bytes,
    prompt_interval_s: float,
    clock: Clock,
) -> Outcome:
    context = engine.context
    provider = context.providers.get(provider_key)
    if provider is None:
        return "unknown_provider"
    try:
        event = provider.parse_callback(headers, body)
    except InvalidCallback as exc:
        logger.warning(
            "callback unverified", extra={"provider": provider_key, "reason": exc.detail[:200]}
        )
        return "unverified"
    now = clock()
    with context.database.unit_of_work() as uow:
        steps = uow.repository(StepRepository)
        row = steps.by_handle(provider_key=provider_key, handle=event.handle)
        if row is None:
            return "unknown_job"
        if not token_matches(token, row.callback_token_hash):
            return "bad_token"
        task = uow.repository(TaskRepository).get(row.task_id)
        if task is None or row.status != "waiting":
            return "ignored"
        if not steps.record_event(provider_key=provider_key, event_id=event.event_id, now=now):
            return "replayed"
        since = now - timedelta(seconds=prompt_interval_s)
        if not steps.claim_prompt(row.id, now=now, since=since):
            return "debounced"  # rolled back: its event id is not kept either
        message = StepMessage(task.public_id, "generate", row.step_index, prompt=True)
        sent = enqueue_in(uow, step_queue("generate"), message.body(), clock=clock)
        uow.commit()
    publish_committed(database=context.database, queue=context.queue, messages=[sent], clock=clock)
    return "prompted"


def token_matches(token: str, expected_digest: str | None) -> bool:
    """Whether `token` is the one whose digest the job keeps, compared in constant time. A
    job given no callback URL (digest None) matches nothing, nor does a token no issued one
    could be (empty, too long, not ASCII: whatever a gateway decoded is refused unhashed)."""
    if expected_digest is None or not 0 < len(token) <= MAX_TOKEN_LENGTH or not token.isascii():
        return False
    digest = callback_token_digest(token)
    return hmac.compare_digest(digest.encode(), expected_digest.encode())
