"""Statement digests (`core.db_statements.normalise`) and the slow-log digest of
`scripts/slow-queries`."""

from __future__ import annotations

import json

import pytest

from retouch.core.db_statements import normalise
from scripts.local import slow_queries


@pytest.mark.parametrize(
    ("sql", "digest"),
    [
        ("SELECT * FROM tasks WHERE id = %s", "SELECT * FROM tasks WHERE id = ?"),
        ("SELECT a FROM t WHERE k = %(key)s AND n > 10", "SELECT a FROM t WHERE k = ? AND n > ?"),
        ("SELECT 1 FROM t WHERE s IN (%s, %s,%s)", "SELECT ? FROM t WHERE s IN (?+)"),
        ("SELECT 1 FROM t WHERE s IN ('a', 'b''c', 'd')", "SELECT ? FROM t WHERE s IN (?+)"),
        ("INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s)", "INSERT INTO t (a, b) VALUES (?+)"),
        ("SELECT SLEEP(0.3e0) AS x", "SELECT SLEEP(?) AS x"),
        ("SELECT\n  a\n FROM t2  WHERE b = 'x@example.com';", "SELECT a FROM t2 WHERE b = ?"),
    ],
)
def test_a_digest_keeps_the_shape_and_drops_every_value(sql: str, digest: str) -> None:
    assert normalise(sql) == digest


def test_names_with_digits_are_not_literals() -> None:
    assert normalise("SELECT ix_t2.col1 FROM t2") == "SELECT ix_t2.col1 FROM t2"


SLOW_LOG = """/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-log. started with:
# Time: 261205 22:36:00
# User@Host: retouch[retouch] @  [127.0.0.1]
# Query_time: 0.300201  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 0
use `retouch`;
SET timestamp=1796510160;
SELECT * FROM tasks
  WHERE user_id = 7;
# Query_time: 0.500000  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 0
SET timestamp=1796510161;
SELECT * FROM tasks WHERE user_id = 8;
# Query_time: 1.0  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
SET timestamp=1796510162;
DELETE FROM outbox WHERE id IN (1, 2, 3);
"""


def test_the_slow_log_and_our_lines_are_digested_together_largest_total_first() -> None:
    ours = json.dumps(
        {
            "message": "slow statement",
            "digest": "SELECT * FROM tasks WHERE user_id = ?",
            "duration_ms": 700.0,
        }
    )
    other = json.dumps({"message": "request done", "duration_ms": 9999})

    digests = slow_queries.digest(slow_queries.entries([*SLOW_LOG.splitlines(), ours, other]))

    assert [(group.statement, len(group.durations)) for group in digests] == [
        ("SELECT * FROM tasks WHERE user_id = ?", 3),
        ("DELETE FROM outbox WHERE id IN (?+)", 1),
    ]
    assert digests[0].total == pytest.approx(1500.201)
    assert digests[0].p95 == pytest.approx(700.0)
    by_p95 = slow_queries.digest(slow_queries.entries(SLOW_LOG.splitlines()), sort="p95")
    assert by_p95[0].statement.startswith("DELETE")
    assert "DELETE FROM outbox" in slow_queries.render(by_p95, top=1)
    assert "SELECT" not in slow_queries.render(by_p95, top=1)
