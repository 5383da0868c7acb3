"""Retention: what the database keeps, and for how long (docs/retention.md).

The `retention` job (`functions/jobs/retention`, hourly) deletes, per table, the rows past
their setting, in short transactions of at most RETOUCH_RETENTION_BATCH_ROWS rows each,
oldest first; audit rows are first archived to object storage (`archive.py`). The rules are
in `repository.py`, the run in `service.py`.
"""

from retouch.retention.service import run_retention

__all__ = ["run_retention"]
