"""Object-created events: the COS shape the local adapter emits, and one parser for COS and
S3 events that the upload trigger uses.

COS (platforms.md §3d) names the object `/{appid}/{bucket name}/{key}` — bucket name without
`-appid` — with a short region code ("cd"); S3 names it by `s3.object.key`, URL-encoded with
`+` for spaces. Both come out of `parse_object_created` as (bucket, key, size, region).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

COS_OBJECT_CREATED = "cos:ObjectCreated:*"


class MalformedStorageEvent(ValueError):
    """An event record is neither a COS nor an S3 object notification we can read."""


@dataclass(frozen=True, slots=True)
class CreatedObject:
    """One object named by an object-created event."""

    bucket: str
    key: str
    size: int
    region: str  # as the event gives it: COS's short code ("cd"), S3's "us-east-1"


def cos_object_created_event(
    *,
    appid: str,
    bucket: str,
    region: str,
    key: str,
    size: int,
    content_type: str,
    event_time: int,
) -> dict[str, Any]:
    """The event SCF's COS trigger delivers for one new object, as the cloud shapes it."""
    request_id = uuid.uuid4().hex
    return {
        "Records": [
            {
                "cos": {
                    "cosSchemaVersion": "1.0",
                    "cosObject": {
                        "url": f"http://{bucket}-{appid}.cos.local/{quote(key)}",
                        "meta": {"x-cos-request-id": request_id, "Content-Type": content_type},
                        "vid": "",
                        "key": f"/{appid}/{bucket}/{key}",
                        "size": size,
                    },
                    "cosBucket": {"region": region, "name": bucket, "appid": appid},
                    "cosNotificationId": "local",
                },
                "event": {
                    "eventName": COS_OBJECT_CREATED,
                    "eventVersion": "1.0",
                    "eventTime": event_time,
                    "eventSource": "qcs::cos",
                    "requestParameters": {"requestSourceIP": "127.0.0.1"},
                    "eventQueue": "local",
                    "reservedInfo": "",
                    "reqid": request_id,
                },
            }
        ]
    }


def parse_object_created(event: Mapping[str, Any]) -> list[CreatedObject]:
    """Every object a COS or S3 object-created event names; MalformedStorageEvent otherwise.

    The keys are returned decoded but not checked: the caller runs them through
    `validate_key`, as it would any key from outside.
    """
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        raise MalformedStorageEvent("the event has no Records")
    return [_parse_record(record) for record in records]


def _parse_record(record: Any) -> CreatedObject:
    try:
        if "cos" in record:
            return _cos_record(record)
        if "s3" in record:
            return _s3_record(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedStorageEvent(f"unreadable object-created record: {exc!r}") from None
    raise MalformedStorageEvent("a record is neither a COS nor an S3 notification")


def _cos_record(record: Mapping[str, Any]) -> CreatedObject:
    cos = record["cos"]
    bucket = cos["cosBucket"]
    name, appid = str(bucket["name"]), str(bucket["appid"])
    prefix = f"/{appid}/{name}/"
    full_key = str(cos["cosObject"]["key"])
    if not full_key.startswith(prefix):
        raise ValueError(f"the COS key does not start with {prefix}")
    # COS keeps the key as stored; a client-encoded name (%2F, %20) is decoded once here.
    return CreatedObject(
        bucket=f"{name}-{appid}",
        key=unquote(full_key[len(prefix) :]),
        size=int(cos["cosObject"]["size"]),
        region=str(bucket.get("region", "")),
    )


def _s3_record(record: Mapping[str, Any]) -> CreatedObject:
    s3 = record["s3"]
    return CreatedObject(
        bucket=str(s3["bucket"]["name"]),
        key=unquote_plus(str(s3["object"]["key"])),
        size=int(s3["object"].get("size", 0)),
        region=str(record.get("awsRegion", "")),
    )
