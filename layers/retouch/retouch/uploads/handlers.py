"""The upload trigger's work: every object an object-created event (COS or S3) names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retouch.core.db import get_database
from retouch.core.logging import logger
from retouch.core.settings import get_settings
from retouch.storage import MalformedStorageEvent, get_storage, parse_object_created
from retouch.uploads.checks import check_uploaded_object


def handle_object_created(event: Mapping[str, Any]) -> dict[str, Any]:
    """Check each object the event names; returns what happened to each (for the logs and
    tests). A malformed event or unknown key is logged and ignored: retrying cannot help."""
    try:
        objects = parse_object_created(event)
    except MalformedStorageEvent as exc:
        logger.warning("malformed object-created event", extra={"error": str(exc)})
        return {"results": []}
    results = [
        check_uploaded_object(
            database=get_database("job"),
            storage=get_storage(),
            settings=get_settings(),
            key=created.key,
        )
        for created in objects
    ]
    return {"results": results}
