"""Quota use cases over the in-memory fakes: the free plan (the default) and a paid one."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from retouch.core.time import Clock
from retouch.quota.schemas import PlanWrite
from retouch.quota.service import open_account
from tests.fakes.quota import quota_database
from tests.fakes.units import InMemoryDatabase

FREE = PlanWrite(code="free", name="Free", monthly_credits=10, features=["cutout"], priority=0)
PRO = PlanWrite(code="pro", name="Pro", monthly_credits=100, features=["cutout"], priority=10)
NOW = datetime(2030, 5, 10, 12, 0, tzinfo=timezone.utc)
USER = 7


def at(moment: datetime = NOW) -> Clock:
    """A clock stopped at `moment`."""
    return lambda: moment


@pytest.fixture
def database() -> InMemoryDatabase:
    """The quota tables with the plans and, for USER, an account opened at NOW (10 credits)."""
    database = quota_database(plans=[FREE, PRO])
    with database.unit_of_work() as uow:
        open_account(uow=uow, user_id=USER, clock=lambda: NOW)
        uow.commit()
    return database


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=timezone.utc)
