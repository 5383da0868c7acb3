"""The process-wide structured logger and EMF metrics (Powertools).

Both objects are cheap to build and hold no connection, so they are module constants, as in
every Powertools example; the service name and namespace come from Powertools' own variables.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "retouch"

logger = Logger(service=SERVICE, use_rfc3339=True, utc=True)
metrics = Metrics(namespace="Retouch", service=SERVICE)
