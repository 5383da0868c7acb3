"""Every log line carries a category: the one the caller gave, else its module's, else
system. (The log scan of tests/log_scan_plugin.py holds every line the suite writes to it.)"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from retouch.core.logging import CATEGORIES, json_message, logger, module_category
from retouch.pipeline.callbacks import __file__ as callbacks_file


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("/opt/python/retouch/http/middleware.py", "access"),
        ("/opt/python/retouch/auth/service.py", "security"),
        ("/opt/python/retouch/core/ratelimit.py", "security"),
        ("/opt/python/retouch/providers/runninghub.py", "vendor"),
        ("/opt/python/retouch/notify/robots.py", "vendor"),
        ("/opt/python/retouch/pipeline/engine.py", "business"),
        ("/opt/python/retouch/quota/service.py", "business"),
        ("/opt/python/retouch/core/db.py", "system"),
        ("/opt/python/retouch/notify/channels.py", "system"),
        ("/var/task/app.py", "system"),
        (callbacks_file or "", "vendor"),
    ],
)
def test_the_module_names_the_category(path: str, category: str) -> None:
    assert module_category(path) == category


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    try:
        yield stream
    finally:
        logging.getLogger(logger.name).removeHandler(handler)


def test_a_line_gets_its_modules_category_unless_the_caller_names_one(
    lines: io.StringIO,
) -> None:
    logger.info("from a test module")
    logger.warning("sign-in refused", extra={"category": "security"})
    logger.info("made-up category", extra={"category": "misc"})

    written = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [line["category"] for line in written] == ["system", "security", "system"]
    assert {line["category"] for line in written} <= CATEGORIES


@pytest.mark.parametrize(
    "message",
    ["request", " plain text", '{"a": 1}', "[1, 2]", "42", "-1.5", "true", "null", "nope",
     "{not json", '"quoted"', ""],
)  # fmt: skip
def test_a_message_is_read_as_powertools_reads_it_without_a_decode_error(message: str) -> None:
    # Powertools turns a message holding a JSON document into its value, else keeps the text.
    try:
        expected = json.loads(message)
    except ValueError:
        expected = message

    assert json_message(message) == expected


def test_a_plain_line_keeps_its_text_and_a_json_one_its_value(lines: io.StringIO) -> None:
    logger.info("request")
    logger.info('{"kind": "document"}')

    written = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [line["message"] for line in written] == ["request", {"kind": "document"}]
