"""The cached caller's pure parts: which entry a bearer header's unverified claims choose, the
record's cached form, and when a prefetched record may stand for the verified caller (the
Redis side is in tests/integration/auth/test_caller_cache.py)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from retouch.caller.cached import NO_PASSWORD_HASH, decode, encode, from_cache
from retouch.caller.schemas import CallerRecord
from retouch.core.caller_cache import LIVE, REVOKED, Prefetched, claimed
from retouch.core.identity import CurrentMembership, User
from retouch.core.security import AccessClaims

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=timezone.utc)
USER = User(
    id=7,
    public_id="usr_abc",
    email="a@example.com",
    password_hash="$argon2id$secret",
    role="user",
    status="active",
    created_at=NOW - timedelta(days=3),
    updated_at=NOW - timedelta(days=1),
    email_verified_at=NOW - timedelta(days=2),
)
CLAIMS = AccessClaims(
    subject="usr_abc", role="user", jti="j", session_id="ses_1", issued_at=0, expires_at=1
)


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _bearer(payload: object) -> str:
    return f"Bearer {_segment({'alg': 'HS256'})}.{_segment(payload)}.c2ln"


def _cached(record: CallerRecord, *, session: str = LIVE, sid: str = "ses_1") -> Prefetched:
    return Prefetched("usr_abc", sid, encode(record), session, "")


def test_the_claimed_sub_and_sid_choose_the_entry() -> None:
    assert claimed(_bearer({"sub": "usr_abc", "sid": "ses_1"})) == ("usr_abc", "ses_1")
    assert claimed(_bearer({"sub": "usr_abc", "sid": "ses_1"}).replace("Bearer", "bearer")) == (
        "usr_abc",
        "ses_1",
    )


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic dXNlcjpwdw==",
        "Bearer not-a-jwt",
        "Bearer a.%%%.c",
        "Bearer " + "a." * 3000 + "b",
        _bearer(["usr_abc", "ses_1"]),
        _bearer({"sub": "usr_abc"}),
        _bearer({"sub": 7, "sid": "ses_1"}),
        _bearer({"sub": "usr_abc}:x", "sid": "ses_1"}),  # would reach outside its key
        _bearer({"sub": "usr_abc", "sid": "s" * 65}),
    ],
)
def test_a_header_that_claims_no_well_formed_caller_reads_nothing(header: str | None) -> None:
    assert claimed(header) is None


def test_the_cached_form_round_trips_without_the_password_hash() -> None:
    membership = CurrentMembership("pro", NOW + timedelta(days=30))
    text = encode(CallerRecord(user=USER, session_revoked=False, membership=membership))

    assert text is not None and "argon2" not in text
    user, read = decode(text)
    assert user == USER.__class__(**{**USER.__dict__, "password_hash": NO_PASSWORD_HASH})
    assert read == membership
    assert encode(CallerRecord(user=None, session_revoked=False, membership=None)) is None
    disabled = USER.__class__(**{**USER.__dict__, "status": "disabled"})
    assert encode(CallerRecord(user=disabled, session_revoked=False, membership=None)) is None
    assert encode(CallerRecord(user=USER, session_revoked=True, membership=None)) is None
    with pytest.raises(ValueError, match="malformed"):
        decode('[1, "usr_abc"]')


def test_a_cached_record_stands_only_for_the_verified_sub_and_sid() -> None:
    record = CallerRecord(user=USER, session_revoked=False, membership=None)

    found = from_cache(_cached(record), CLAIMS, NOW)

    assert found is not None and found.user is not None and found.user.id == 7
    assert from_cache(_cached(record, sid="ses_2"), CLAIMS, NOW) is None
    other = Prefetched("usr_xyz", "ses_1", encode(record), LIVE, "")
    assert from_cache(other, CLAIMS, NOW) is None
    assert from_cache(None, CLAIMS, NOW) is None


def test_a_session_not_cached_yet_or_a_garbled_record_reads_mysql() -> None:
    record = CallerRecord(user=USER, session_revoked=False, membership=None)

    assert from_cache(Prefetched("usr_abc", "ses_1", encode(record), None, ""), CLAIMS, NOW) is None
    assert from_cache(Prefetched("usr_abc", "ses_1", "{nope", LIVE, ""), CLAIMS, NOW) is None


def test_a_revoked_session_is_cached_as_revoked() -> None:
    record = CallerRecord(user=USER, session_revoked=False, membership=None)

    found = from_cache(_cached(record, session=REVOKED), CLAIMS, NOW)

    assert found is not None and found.session_revoked


def test_a_membership_that_expired_since_it_was_cached_reads_mysql() -> None:
    ended = CurrentMembership("pro", NOW - timedelta(seconds=1))
    running = CurrentMembership("pro", NOW + timedelta(seconds=1))

    expired = _cached(CallerRecord(user=USER, session_revoked=False, membership=ended))
    live = _cached(CallerRecord(user=USER, session_revoked=False, membership=running))

    assert from_cache(expired, CLAIMS, NOW) is None
    found = from_cache(live, CLAIMS, NOW)
    assert found is not None and found.membership == running
