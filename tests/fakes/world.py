"""Every fake a task meets on its way, in one in-memory database: the catalog, the caller's
credits (quota), uploads, tasks and their steps, the outbox and Idempotency-Keys; wired as the
tables join (a step reads its task, the ledger its account).

    world = task_world(plans=[FREE])
    create_task(database=world.database, ...)
    assert world.tasks.tasks and world.outbox.unpublished() == []
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from retouch.catalog.repository import (
    FeatureRepository,
    FormRepository,
    PipelineRepository,
    ProviderConfigRepository,
)
from retouch.idempotency import IdempotencyRepository
from retouch.pipeline.repository import StepRepository
from retouch.queue.repository import OutboxRepository
from retouch.quota.repository import (
    AccountRepository,
    LedgerRepository,
    PlanRepository,
    ReservationRepository,
)
from retouch.quota.schemas import PlanWrite
from retouch.tasks.creation import CreationReads
from retouch.tasks.repository import TaskRepository
from retouch.uploads.repository import UploadRepository
from tests.fakes.catalog import (
    FakeFeatureRepository,
    FakeFormRepository,
    FakePipelineRepository,
    FakeProviderConfigRepository,
    catalog_fakes,
)
from tests.fakes.creation import FakeCreationReads
from tests.fakes.idempotency import FakeIdempotencyRepository
from tests.fakes.outbox import FakeOutboxRepository
from tests.fakes.quota import (
    FakeAccountRepository,
    FakeLedgerRepository,
    FakeReservationRepository,
    quota_fakes,
)
from tests.fakes.tasks import FakeStepRepository, FakeTaskRepository
from tests.fakes.units import InMemoryDatabase
from tests.fakes.uploads import FakeUploadRepository


@dataclass(frozen=True)
class World:
    """The database and, by name, the fakes the assertions read."""

    database: InMemoryDatabase

    def fake(self, port: type[Any]) -> Any:
        return self.database.fakes[port]

    @property
    def features(self) -> FakeFeatureRepository:
        return cast(FakeFeatureRepository, self.fake(FeatureRepository))

    @property
    def forms(self) -> FakeFormRepository:
        return cast(FakeFormRepository, self.fake(FormRepository))

    @property
    def pipelines(self) -> FakePipelineRepository:
        return cast(FakePipelineRepository, self.fake(PipelineRepository))

    @property
    def provider_configs(self) -> FakeProviderConfigRepository:
        return cast(FakeProviderConfigRepository, self.fake(ProviderConfigRepository))

    @property
    def accounts(self) -> FakeAccountRepository:
        return cast(FakeAccountRepository, self.fake(AccountRepository))

    @property
    def reservations(self) -> FakeReservationRepository:
        return cast(FakeReservationRepository, self.fake(ReservationRepository))

    @property
    def ledger(self) -> FakeLedgerRepository:
        return cast(FakeLedgerRepository, self.fake(LedgerRepository))

    @property
    def uploads(self) -> FakeUploadRepository:
        return cast(FakeUploadRepository, self.fake(UploadRepository))

    @property
    def tasks(self) -> FakeTaskRepository:
        return cast(FakeTaskRepository, self.fake(TaskRepository))

    @property
    def steps(self) -> FakeStepRepository:
        return cast(FakeStepRepository, self.fake(StepRepository))

    @property
    def outbox(self) -> FakeOutboxRepository:
        return cast(FakeOutboxRepository, self.fake(OutboxRepository))

    @property
    def keys(self) -> FakeIdempotencyRepository:
        return cast(FakeIdempotencyRepository, self.fake(IdempotencyRepository))


def task_world(*, plans: list[PlanWrite] | None = None) -> World:
    """A fresh in-memory database of every fake a task's life touches."""
    tasks = FakeTaskRepository()
    catalog, quota, uploads = catalog_fakes(), quota_fakes(plans=plans), FakeUploadRepository()
    return World(
        InMemoryDatabase(
            {
                **catalog,
                **quota,
                UploadRepository: uploads,
                CreationReads: FakeCreationReads(
                    lambda: (catalog[FeatureRepository], quota[PlanRepository], uploads)
                ),
                TaskRepository: tasks,
                # A closure, not the bound method: a snapshot must not copy the task table.
                StepRepository: FakeStepRepository(
                    lambda task_id: tasks.get(task_id),
                    lambda public_id: tasks.get_by_public_id(public_id),
                ),
                OutboxRepository: FakeOutboxRepository(),
                IdempotencyRepository: FakeIdempotencyRepository(),
            }
        )
    )
