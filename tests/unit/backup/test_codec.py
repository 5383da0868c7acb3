"""The row codec: every MySQL value type round-trips to what INSERT takes, and the table
checksum depends on every byte and on the order."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from retouch.backup.codec import (
    TableChecksum,
    compress,
    decode_line,
    decompress,
    encode_row,
    lines,
)


def test_values_of_every_column_type_round_trip() -> None:
    row = (
        7,
        '泰山 "quoted" \n newline',
        None,
        1.5,
        Decimal("12.340"),
        datetime(2026, 12, 5, 22, 15, 0, 123000),
        date(2026, 12, 5),
        time(1, 2, 3),
        timedelta(hours=-1, seconds=5),
        timedelta(days=2, hours=3, microseconds=7),
        b"\x00\xff binary",
        '{"json": [1, 2]}',
    )

    line = encode_row(row)

    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_line(line) == [
        7,
        '泰山 "quoted" \n newline',
        None,
        1.5,
        "12.340",
        "2026-12-05 22:15:00.123000",
        "2026-12-05",
        "01:02:03",
        "-0:59:55.000000",
        "51:00:00.000007",
        b"\x00\xff binary",
        '{"json": [1, 2]}',
    ]


def test_an_unknown_value_type_is_refused_not_written_as_something_else() -> None:
    with pytest.raises(TypeError, match="set"):
        encode_row([{1, 2}])
    with pytest.raises(ValueError):
        encode_row([float("nan")])


def test_the_checksum_depends_on_content_and_order() -> None:
    a, b = encode_row([1, "a"]), encode_row([2, "b"])
    digests = []
    for order in ([a, b], [b, a], [a, encode_row([2, "c"])]):
        checksum = TableChecksum()
        for line in order:
            checksum.add(line)
        digests.append(checksum.digest)

    assert len(set(digests)) == 3


def test_a_part_compresses_and_splits_back_into_its_lines() -> None:
    rows = [encode_row([n, "x" * n]) for n in range(50)]

    assert list(lines(decompress(compress(b"".join(rows))))) == rows
    with pytest.raises(ValueError):
        list(lines(b"[1]\n[2]"))  # a last line cut short
