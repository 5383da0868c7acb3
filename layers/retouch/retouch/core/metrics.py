"""Business metrics as single EMF lines (Powertools `single_metric`, flushed at once: queue
consumers and jobs have no per-request flush like the HTTP middleware's). Each domain names
its own metrics (`tasks/metrics.py`, `providers/metrics.py`, `pipeline/metrics.py`) through
`emit`."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from retouch.core.logging import SERVICE

NAMESPACE = "Retouch"

__all__ = ["NAMESPACE", "MetricUnit", "emit"]


def emit(
    name: str, value: float, *, unit: MetricUnit = MetricUnit.Count, **dimensions: str
) -> None:
    """One metric value with the service's dimension and `dimensions`, written now."""
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as one:
        one.add_dimension(name="service", value=SERVICE)
        for key, dimension in dimensions.items():
            one.add_dimension(name=key, value=dimension)
