"""The simulator adapter without a network: callback verification and its import cost."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from retouch.providers.port import InvalidCallback
from retouch.providers.simulator import SimulatorProvider

SECRET = "unit-callback-secret"
NOW = 1_800_000_000.0
BODY = json.dumps({"event_id": "evt-1", "job_id": "sim-1", "status": "succeeded"}).encode()


def provider() -> SimulatorProvider:
    return SimulatorProvider(
        "http://127.0.0.1:9", "key", SECRET, callback_tolerance_s=300, clock=lambda: NOW
    )


def signed(body: bytes, timestamp: str, secret: str = SECRET) -> dict[str, str]:
    # As the protocol documents it: hex(HMAC-SHA256(secret, timestamp + "." + body)).
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {"X-Sim-Timestamp": timestamp, "X-Sim-Signature": mac.hexdigest()}


def test_a_signed_fresh_callback_names_the_job_and_the_event() -> None:
    event = provider().parse_callback(signed(BODY, str(int(NOW) - 299)), BODY)

    assert (event.handle, event.event_id) == ("sim-1", "evt-1")


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param(signed(BODY, str(int(NOW)), secret="forged"), BODY, id="forged-signature"),
        pytest.param(signed(b"{}", str(int(NOW))), BODY, id="signature-of-another-body"),
        pytest.param({"X-Sim-Timestamp": str(int(NOW))}, BODY, id="no-signature"),
        pytest.param(signed(BODY, ""), BODY, id="no-timestamp"),
        pytest.param(signed(BODY, str(int(NOW) - 301)), BODY, id="stale-timestamp"),
        pytest.param(signed(BODY, str(int(NOW) + 301)), BODY, id="future-timestamp"),
        pytest.param(signed(BODY, "yesterday"), BODY, id="timestamp-not-a-number"),
        pytest.param(signed(b"not json", str(int(NOW))), b"not json", id="body-not-json"),
        pytest.param(signed(b"[1]", str(int(NOW))), b"[1]", id="body-not-an-object"),
        pytest.param(
            signed(b'{"event_id": "e"}', str(int(NOW))), b'{"event_id": "e"}', id="no-job-id"
        ),
    ],
)
def test_a_callback_that_is_not_the_simulators_is_refused(
    headers: dict[str, str], body: bytes
) -> None:
    with pytest.raises(InvalidCallback):
        provider().parse_callback(headers, body)
