"""Object-created events: the COS shape the local adapter emits and the parser the upload
trigger will use, for COS and S3 events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retouch.storage import CreatedObject, MalformedStorageEvent, parse_object_created
from retouch.storage.local import LOCAL_APPID, LOCAL_BUCKET, LOCAL_REGION
from tests.unit.storage_support import SecondsClock, make_storage

# The sample of ../shared/reference/platforms.md §3d (SCF COS trigger), request ids shortened.
COS_SAMPLE: dict[str, Any] = {
    "Records": [
        {
            "cos": {
                "cosSchemaVersion": "1.0",
                "cosObject": {
                    "url": "http://testpic-1253970026.cos.ap-chengdu.myqcloud.com/testfile",
                    "meta": {
                        "x-cos-request-id": "NWMxOWY4MGFfMjViMjU4NjRfMTUyMV8yNzhhZjM=",
                        "Content-Type": "",
                    },
                    "vid": "",
                    "key": "/1253970026/testpic/testfile",
                    "size": 1029,
                },
                "cosBucket": {"region": "cd", "name": "testpic", "appid": "1253970026"},
                "cosNotificationId": "unkown",
            },
            "event": {
                "eventName": "cos:ObjectCreated:*",
                "eventVersion": "1.0",
                "eventTime": 1545205770,
                "eventSource": "qcs::cos",
                "requestParameters": {"requestSourceIP": "192.168.15.101"},
                "eventQueue": "qcs:0:scf:cd:appid/1253970026:default.printevent.$LATEST",
                "reservedInfo": "",
                "reqid": 179398952,
            },
        }
    ]
}

# An S3 ObjectCreated:Put record (AWS S3 event notification structure, version 2.1).
S3_SAMPLE: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-28T12:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "uploads",
                "bucket": {"name": "retouch-uploads", "arn": "arn:aws:s3:::retouch-uploads"},
                "object": {
                    "key": "uploads/usr_abc/upl_1+copy%3D2",
                    "size": 2048,
                    "eTag": "0123456789abcdef0123456789abcdef",
                    "sequencer": "0A1B2C3D4E5F678901",
                },
            },
        }
    ]
}


def test_parses_the_platforms_cos_sample_stripping_the_appid_and_bucket_prefix() -> None:
    assert parse_object_created(COS_SAMPLE) == [
        CreatedObject(bucket="testpic-1253970026", key="testfile", size=1029, region="cd")
    ]


def test_parses_an_s3_event_decoding_its_url_encoded_key() -> None:
    assert parse_object_created(S3_SAMPLE) == [
        CreatedObject(
            bucket="retouch-uploads",
            key="uploads/usr_abc/upl_1 copy=2",
            size=2048,
            region="us-east-1",
        )
    ]


def test_the_event_of_a_local_upload_round_trips_through_the_parser(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    storage = make_storage(tmp_path, SecondsClock(), events)

    storage.put("uploads/usr_abc/upl_123", b"\x89PNG....", "image/png")

    (event,) = events
    record = event["Records"][0]
    assert record["event"]["eventName"] == "cos:ObjectCreated:*"
    assert (
        record["cos"]["cosObject"]["key"]
        == f"/{LOCAL_APPID}/{LOCAL_BUCKET}/uploads/usr_abc/upl_123"
    )
    assert record["cos"]["cosBucket"] == {
        "name": LOCAL_BUCKET,
        "appid": LOCAL_APPID,
        "region": LOCAL_REGION,
    }
    assert parse_object_created(event) == [
        CreatedObject(
            bucket=f"{LOCAL_BUCKET}-{LOCAL_APPID}",
            key="uploads/usr_abc/upl_123",
            size=8,
            region=LOCAL_REGION,
        )
    ]


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": []},
        {"Records": [{"CMQ": {}}]},
        {"Records": [{"cos": {"cosBucket": {"name": "a", "appid": "1"}}}]},
        # A key outside the bucket the record names.
        {
            "Records": [
                {
                    "cos": {
                        "cosObject": {"key": "/1/other/x", "size": 1},
                        "cosBucket": {"name": "a", "appid": "1", "region": "cd"},
                    }
                }
            ]
        },
    ],
)
def test_unreadable_events_are_refused(event: dict[str, Any]) -> None:
    with pytest.raises(MalformedStorageEvent):
        parse_object_created(event)
