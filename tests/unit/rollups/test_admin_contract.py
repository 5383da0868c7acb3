"""The admin routes' closed lists stay in step with what they name: every rollup metric is a
series a dashboard may ask for, the redrivable queues are exactly the step queues, and the
cache namespaces an operator may invalidate are the ones the code caches under."""

from __future__ import annotations

from typing import get_args

from retouch.admin.schemas import (
    CACHE_NAMESPACES,
    STEP_QUEUES,
    CacheNamespace,
    Metric,
    StepQueue,
)
from retouch.catalog.public import CACHE_NAMESPACE as CATALOG_NAMESPACE
from retouch.core.permissions import PERMISSIONS, Permission
from retouch.queue.steps import STEP_KINDS, step_queue
from retouch.rollups import METRICS


def test_every_rollup_metric_and_only_they_can_be_asked_for_as_a_series() -> None:
    assert set(get_args(Metric)) == set(METRICS)


def test_the_redrivable_queues_are_the_step_queues() -> None:
    assert set(get_args(StepQueue)) == set(STEP_QUEUES) == {step_queue(k) for k in STEP_KINDS}


def test_the_invalidatable_namespaces_are_those_the_code_caches_under() -> None:
    assert set(get_args(CacheNamespace)) == set(CACHE_NAMESPACES) == {CATALOG_NAMESPACE}


def test_only_admins_redrive_dead_letters_and_operators_read_metrics() -> None:
    assert Permission.QUEUES_REDRIVE not in PERMISSIONS["operator"]
    assert Permission.QUEUES_REDRIVE in PERMISSIONS["admin"]
    assert Permission.METRICS_READ in PERMISSIONS["operator"]
