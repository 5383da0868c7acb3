"""Security primitives without servers: Argon2id hashing and access-token verification
(RFC 8725: algorithm allowlist, key by kid, typ/iss/aud, required claims)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest

from retouch.core.errors import TokenExpired, Unauthenticated
from retouch.core.security import (
    TokenConfig,
    hash_password,
    issue_access_token,
    new_opaque_token,
    password_needs_rehash,
    token_digest,
    verify_access_token,
    verify_password,
)
from retouch.core.verified_tokens import VerifiedTokens

KEY = b"k" * 32
CONFIG = TokenConfig(
    keys={"k1": KEY}, active_kid="k1", issuer="retouch", audience="retouch-api", ttl_s=900
)
CLAIMS: dict[str, object] = {
    "iss": "retouch",
    "aud": "retouch-api",
    "sub": "usr_abcdefghijkl",
    "role": "user",
    "sid": "ses_abcdefghijkl",
    "jti": "0123456789abcdef",
}


def _signed(claims: dict[str, object], *, key: bytes = KEY, **header: Any) -> str:
    now = int(time.time())
    payload = {"iat": now, "exp": now + 600, **claims}
    headers = {"kid": "k1", "typ": "at+jwt", **header}
    algorithm = str(headers.pop("alg", "HS256"))
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_hashed_password_verifies_and_a_wrong_one_does_not() -> None:
    hashed = hash_password("Correct-Horse-7")

    assert hashed.startswith("$argon2id$")
    assert "Correct-Horse-7" not in hashed
    assert verify_password(hashed, "Correct-Horse-7")
    assert not verify_password(hashed, "correct-horse-7")


def test_a_malformed_hash_is_a_mismatch_not_an_error() -> None:
    assert not verify_password("not-a-hash", "whatever")
    assert password_needs_rehash("not-a-hash")


def test_a_hash_takes_one_lane_and_a_four_lane_hash_still_verifies_then_is_redone() -> None:
    from argon2 import PasswordHasher

    # one lane: one thread per hash, so hashing never takes every core of an instance
    hashed = hash_password("Correct-Horse-7")
    assert "$m=65536,t=3,p=1$" in hashed
    assert not password_needs_rehash(hashed)
    # a hash made before (RFC 9106's four lanes) signs in, and is redone at that sign-in
    older = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("Correct-Horse-7")
    assert verify_password(older, "Correct-Horse-7")
    assert password_needs_rehash(older)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("Correct-Horse-7") != hash_password("Correct-Horse-7")


def test_opaque_tokens_are_random_and_stored_only_as_their_digest() -> None:
    first, second = new_opaque_token(), new_opaque_token()

    assert first != second and len(first) >= 43
    assert token_digest(first) == token_digest(first)
    assert len(token_digest(first)) == 64 and first not in token_digest(first)


def test_an_issued_access_token_verifies_with_its_claims() -> None:
    issued = issue_access_token(
        config=CONFIG, subject="usr_abcdefghijkl", role="admin", session_id="ses_x"
    )

    claims = verify_access_token(issued.token, config=CONFIG)

    assert claims == issued.claims
    assert claims.subject == "usr_abcdefghijkl" and claims.role == "admin"
    assert claims.expires_at - claims.issued_at == 900
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": "HS256", "kid": "k1", "typ": "at+jwt"}


def test_an_expired_token_is_token_expired() -> None:
    issued = issue_access_token(
        config=CONFIG, subject="usr_a", role="user", session_id="s", now=int(time.time()) - 1000
    )

    with pytest.raises(TokenExpired):
        verify_access_token(issued.token, config=CONFIG)


def test_alg_none_is_refused() -> None:
    header = {"alg": "none", "kid": "k1", "typ": "at+jwt"}
    now = int(time.time())
    token = f"{_b64(header)}.{_b64({**CLAIMS, 'iat': now, 'exp': now + 600})}."

    with pytest.raises(Unauthenticated) as refused:
        verify_access_token(token, config=CONFIG)
    assert type(refused.value) is Unauthenticated


def test_hs512_with_the_right_key_is_refused() -> None:
    token = _signed(CLAIMS, key=b"k" * 64, alg="HS512")

    with pytest.raises(Unauthenticated):
        verify_access_token(token, config=CONFIG)


def test_rs256_header_is_refused_even_with_a_valid_hmac_of_the_content() -> None:
    # Algorithm confusion: the attacker labels the token RS256 and signs it with HMAC using
    # material they hold; the allowlist must refuse it before any key is chosen by `alg`.
    now = int(time.time())
    header = _b64({"alg": "RS256", "kid": "k1", "typ": "at+jwt"})
    payload = _b64({**CLAIMS, "iat": now, "exp": now + 600})
    mac = hmac.new(KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    with pytest.raises(Unauthenticated):
        verify_access_token(f"{header}.{payload}.{signature}", config=CONFIG)


def test_a_tampered_payload_fails_the_signature() -> None:
    header, _, signature = _signed(CLAIMS).split(".")
    now = int(time.time())
    forged = {**CLAIMS, "role": "admin", "iat": now, "exp": now + 600}

    with pytest.raises(Unauthenticated):
        verify_access_token(f"{header}.{_b64(forged)}.{signature}", config=CONFIG)


def test_a_tampered_signature_is_refused() -> None:
    token = _signed(CLAIMS)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]

    with pytest.raises(Unauthenticated):
        verify_access_token(flipped, config=CONFIG)


@pytest.mark.parametrize(
    ("claims", "header"),
    [
        ({**CLAIMS, "aud": "another-api"}, {}),
        ({**CLAIMS, "iss": "someone-else"}, {}),
        (CLAIMS, {"typ": "JWT"}),
        (CLAIMS, {"typ": "refresh+jwt"}),
        (CLAIMS, {"kid": "unknown"}),
        (CLAIMS, {"kid": "' OR 1=1 --"}),
        ({key: value for key, value in CLAIMS.items() if key != "jti"}, {}),
        ({key: value for key, value in CLAIMS.items() if key != "sid"}, {}),
        ({key: value for key, value in CLAIMS.items() if key != "aud"}, {}),
        ({**CLAIMS, "sub": 42}, {}),
    ],
    ids=[
        "wrong-aud",
        "wrong-iss",
        "typ-jwt",
        "typ-refresh",
        "unknown-kid",
        "injected-kid",
        "no-jti",
        "no-sid",
        "no-aud",
        "sub-not-text",
    ],
)
def test_a_token_that_is_not_one_of_our_access_tokens_is_unauthenticated(
    claims: dict[str, object], header: dict[str, Any]
) -> None:
    token = _signed(claims, **header)

    with pytest.raises(Unauthenticated) as refused:
        verify_access_token(token, config=CONFIG)
    assert refused.value.code == "UNAUTHENTICATED"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 5000, "Bearer x.y.z"])
def test_garbage_is_unauthenticated(garbage: str) -> None:
    with pytest.raises(Unauthenticated):
        verify_access_token(garbage, config=CONFIG)


def test_an_old_key_still_verifies_after_rotation_and_a_dropped_one_does_not() -> None:
    # GIVEN a token signed before the rotation
    old = issue_access_token(config=CONFIG, subject="usr_a", role="user", session_id="s")

    # WHEN a new key becomes active and the old kid is kept
    rotated = TokenConfig(
        keys={"k1": KEY, "k2": b"n" * 32},
        active_kid="k2",
        issuer=CONFIG.issuer,
        audience=CONFIG.audience,
        ttl_s=CONFIG.ttl_s,
    )
    new = issue_access_token(config=rotated, subject="usr_a", role="user", session_id="s")

    # THEN both verify, new tokens carry the new kid, and dropping k1 ends the old token
    assert verify_access_token(old.token, config=rotated).jti == old.claims.jti
    assert jwt.get_unverified_header(new.token)["kid"] == "k2"
    dropped = TokenConfig(
        keys={"k2": b"n" * 32},
        active_kid="k2",
        issuer=CONFIG.issuer,
        audience=CONFIG.audience,
        ttl_s=CONFIG.ttl_s,
    )
    with pytest.raises(Unauthenticated):
        verify_access_token(old.token, config=dropped)
    assert verify_access_token(new.token, config=dropped).jti == new.claims.jti


def test_a_token_signed_with_another_kid_s_key_is_refused() -> None:
    # A token claiming kid k1 but signed with k2's key (key confusion between kids).
    two = {"k1": KEY, "k2": b"n" * 32}
    config = TokenConfig(
        keys=two, active_kid="k1", issuer="retouch", audience="retouch-api", ttl_s=900
    )

    token = _signed(CLAIMS, key=b"n" * 32, kid="k1")

    with pytest.raises(Unauthenticated):
        verify_access_token(token, config=config)


def _config(
    *, key: bytes = KEY, issuer: str = "retouch", audience: str = "retouch-api"
) -> TokenConfig:
    return TokenConfig(
        keys={"k1": key}, active_kid="k1", issuer=issuer, audience=audience, ttl_s=900
    )


def test_a_verified_token_answers_from_the_instance_s_table_the_second_time() -> None:
    issued = issue_access_token(config=CONFIG, subject="usr_a", role="user", session_id="s")

    first = verify_access_token(issued.token, config=CONFIG)
    again = verify_access_token(issued.token, config=_config())

    assert again is first  # the very claims of the first check: no second decode
    assert again == issued.claims


def test_a_remembered_token_is_refused_once_its_key_is_replaced_under_the_same_kid() -> None:
    issued = issue_access_token(config=CONFIG, subject="usr_a", role="user", session_id="s")
    verify_access_token(issued.token, config=CONFIG)

    with pytest.raises(Unauthenticated):
        verify_access_token(issued.token, config=_config(key=b"r" * 32))


@pytest.mark.parametrize(
    "config", [_config(issuer="other"), _config(audience="other-api")], ids=["iss", "aud"]
)
def test_a_remembered_token_is_refused_under_another_issuer_or_audience(
    config: TokenConfig,
) -> None:
    issued = issue_access_token(config=CONFIG, subject="usr_a", role="user", session_id="s")
    verify_access_token(issued.token, config=CONFIG)

    with pytest.raises(Unauthenticated):
        verify_access_token(issued.token, config=config)


def test_a_remembered_token_is_token_expired_once_its_exp_passes() -> None:
    # GIVEN a token verified a moment before it expires (exp is whole seconds)
    now = int(time.time())
    issued = issue_access_token(
        config=CONFIG, subject="usr_a", role="user", session_id="s", now=now - 899
    )
    while issued.claims.expires_at <= time.time():  # issued at a second's very end
        now = int(time.time())
        issued = issue_access_token(
            config=CONFIG, subject="usr_a", role="user", session_id="s", now=now - 899
        )
    verify_access_token(issued.token, config=CONFIG)

    # WHEN exp passes
    time.sleep(max(0.0, issued.claims.expires_at - time.time()) + 0.05)

    # THEN the table does not answer for it: the full check refuses it as expired
    with pytest.raises(TokenExpired):
        verify_access_token(issued.token, config=CONFIG)


def test_the_table_forgets_everything_past_its_capacity_and_answers_only_exact_tokens() -> None:
    table: VerifiedTokens[str] = VerifiedTokens(capacity=2)

    def put(token: str, claims: str) -> None:
        table.put(token, claims, kid="k1", key=KEY, issuer="i", audience="a", expires_at=2000)

    def get(token: str, now: float = 1000.0) -> str | None:
        return table.get(token, keys={"k1": KEY}, issuer="i", audience="a", now=now)

    put("t1", "one")
    put("t2", "two")
    assert get("t1") == "one"
    assert get("t1x") is None
    assert get("t2", now=2000.0) is None  # exp is not in the future
    put("t3", "three")
    assert (get("t1"), get("t3")) == (None, "three")
