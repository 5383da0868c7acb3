"""A task's world for the unit tests of `retouch.tasks` and `retouch.pipeline`: the seed's
`cutout` feature over a two-provider chain, a caller with credits, ready uploads in a memory
storage, and the engine over fakes with a pump that delivers what the steps publish.

    shop = Shop.open()
    task = shop.create(ALICE, inputs={"image": shop.upload(ALICE)})
    shop.run_pipeline(ScriptedProvider("vendor", [png(8, 6)]))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from retouch.catalog.schemas import FeatureWrite
from retouch.core.identity import Principal
from retouch.core.ids import new_public_id
from retouch.core.settings import Settings
from retouch.pipeline.engine import Engine, StepContext
from retouch.providers.guards import BreakerConfig, ProviderGuards
from retouch.providers.port import Provider
from retouch.quota.schemas import PlanWrite
from retouch.quota.service import open_account
from retouch.storage import upload_key
from retouch.tasks.records import Task
from retouch.tasks.schemas import TaskCreate, TaskRead
from retouch.tasks.service import create_task
from retouch.uploads.integrity import fingerprint
from tests.catalog_support import seed_feature
from tests.fakes.identity import principal
from tests.fakes.outbox import RecordingQueue
from tests.fakes.providers import FakeProviders
from tests.fakes.redis import FakeRedis, as_client
from tests.fakes.storage import MemoryStorage
from tests.fakes.world import World, task_world
from tests.unit.image_support import png

NOW = datetime(2030, 5, 10, 12, 0, tzinfo=timezone.utc)
FREE = PlanWrite(code="free", name="Free", monthly_credits=10, features=["cutout"], priority=0)
SETTINGS = Settings.model_validate(
    {
        "db_host": "127.0.0.1",
        "db_user": "unit",
        "db_name": "unit",
        "redis_url": "redis://127.0.0.1:9/0",
    }
)
#: The chain of the test feature's `generate` step.
CHAIN = ("vendor", "backup")
COST = 4
PHOTO = png(8, 6)
RESULT = png(16, 12)


ALICE = principal(1)
BOB = principal(2)


@dataclass
class Clock:
    """A clock that moves only when told."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Shop:
    """The in-memory world, its storage, queue and Redis, and the clock they share."""

    world: World = field(default_factory=lambda: task_world(plans=[FREE]))
    storage: MemoryStorage = field(default_factory=MemoryStorage)
    queue: RecordingQueue = field(default_factory=RecordingQueue)
    redis: FakeRedis = field(default_factory=FakeRedis)
    clock: Clock = field(default_factory=Clock)
    delivered: int = 0

    @classmethod
    def open(cls, **feature: Any) -> Shop:
        """A shop selling `cutout` (see `add_feature`) to ALICE and BOB, 10 credits each."""
        shop = cls()
        shop.add_feature(**feature)
        for user in (ALICE, BOB):
            shop.open_account(user)
        shop.database.commits = 0  # what a test counts starts now
        return shop

    @property
    def database(self) -> Any:
        return self.world.database

    def add_feature(
        self,
        *,
        cost: int = COST,
        enabled: bool = True,
        plans: Sequence[str] = ("free",),
        chain: Sequence[str] = CHAIN,
        retries: int = 1,
    ) -> None:
        seed = seed_feature("cutout")
        self.world.features.upsert(
            FeatureWrite(
                **seed.model_dump(include=set(FeatureWrite.model_fields)),
            ).model_copy(update={"cost": cost, "enabled": enabled, "allowed_plans": list(plans)})
        )
        form = self.world.forms.add(feature_key="cutout", document=seed.form, created_by=None)
        steps = [
            {"step": "prepare"},
            {"step": "generate", "providers": list(chain), "timeout_s": 60, "retries": retries},
            {"step": "store"},
        ]
        pipeline = self.world.pipelines.add(feature_key="cutout", document=steps, created_by=None)
        self.world.features.set_current("cutout", kind="form", version=form)
        self.world.features.set_current("cutout", kind="pipeline", version=pipeline)

    def open_account(self, user: Principal) -> None:
        with self.database.unit_of_work() as uow:
            open_account(uow=uow, user_id=user.user.id, clock=self.clock)
            uow.commit()

    def balance(self, user: Principal) -> tuple[int, int]:
        """(balance, reserved) of the user's credits."""
        account = self.world.accounts.get(user.user.id)
        assert account is not None
        return account.balance, account.reserved

    def upload(self, user: Principal, *, status: str = "ready", data: bytes = PHOTO) -> str:
        """A public upload id of `user`'s, its bytes stored; `ready` unless told."""
        public_id = new_public_id("upl")
        key = upload_key(user_id=user.public_id, upload_id=public_id)
        uploads = self.world.uploads
        uploads.add(
            public_id=public_id,
            user_id=user.user.id,
            object_key=key,
            content_type="image/png",
            declared_size=len(data),
            now=NOW,
        )
        self.storage.put(key, data, "image/png")
        upload = uploads.get_by_public_id(public_id)
        assert upload is not None
        if status == "ready":
            uploads.mark_ready(
                upload.id, width=8, height=6, actual_size=len(data), sha256=fingerprint(data)
            )
        elif status == "rejected":
            uploads.mark_rejected(upload.id, reason="not an image", actual_size=len(data))
        return public_id

    def create(
        self,
        user: Principal = ALICE,
        *,
        inputs: dict[str, Any] | None = None,
        feature: str = "cutout",
        key: str | None = None,
    ) -> TaskRead:
        return create_task(
            database=self.database,
            queue=self.queue,
            settings=SETTINGS,
            principal=user,
            request=TaskCreate(
                feature=feature, inputs={"image": self.upload(user)} if inputs is None else inputs
            ),
            idempotency_key=key,
            language="en",
            clock=self.clock,
        )

    def task(self, public_id: str) -> Task:
        found = self.world.tasks.get_by_public_id(public_id)
        assert found is not None
        return found

    def engine(
        self,
        *providers: Provider,
        threshold: int = 5,
        normalize: Callable[[bytes], bytes] = lambda data: data,
        callback_base_url: str | None = None,
    ) -> Engine:
        client = as_client(self.redis)
        return Engine(
            StepContext(
                database=self.database,
                redis=client,
                queue=self.queue,
                storage=self.storage,
                providers=FakeProviders(*providers),
                guards=ProviderGuards(client, BreakerConfig(threshold=threshold)),
                normalize=normalize,
                fetch=lambda url, provider: self.storage.get(url.removeprefix("memory://")),
                clock=self.clock,
                callback_base_url=callback_base_url,
            )
        )

    def run_pipeline(
        self, *providers: Provider, engine: Engine | None = None, at_most: int | None = None
    ) -> list[str]:
        """Deliver every step message published so far and since, in order, delays ignored
        (the clock moves by each delay), or `at_most` of them; the steps run, in order."""
        engine = engine or self.engine(*providers)
        ran: list[str] = []
        while self.delivered < len(self.queue.published) and len(ran) != at_most:
            _, body, delay_s = self.queue.published[self.delivered]
            self.delivered += 1
            self.clock.advance(delay_s)
            ran.append(str(body["step"]))
            engine.handle(body)
            assert len(ran) < 100, "the pipeline does not end"
        return ran

    def statuses(self, task_id: str) -> list[str]:
        """The statuses announced on the task's channel, in order."""
        channel = f"task:{{{task_id}}}:events"
        return [json.loads(m)["status"] for c, m in self.redis.published if c == channel]
