"""Security primitives: password hashing (Argon2id) and access tokens (HS256 JWT, RFC 8725).

Generic: nothing here knows users, tables or HTTP. Access tokens are signed with the key named
by the `kid` header; every key of `RETOUCH_JWT_KEYS` verifies, only the active one signs, so a
key can be rotated while tokens signed with the old one live out their short lives.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import jwt

from retouch.core.errors import TokenExpired, Unauthenticated
from retouch.core.secrets.own import SigningKeys, signing_keys
from retouch.core.settings import Settings
from retouch.core.verified_tokens import VerifiedTokens

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ALGORITHM = "HS256"
#: RFC 9068 media type of an access token, sent in the JOSE `typ` header (RFC 8725 §3.11).
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti", "role", "sid"]
#: The tokens this instance has verified (`core/verified_tokens.py`).
_verified: VerifiedTokens[AccessClaims] = VerifiedTokens()


# --- passwords ---------------------------------------------------------------------------


@cache
def _hasher() -> PasswordHasher:
    # Imported here: only the auth function hashes, and argon2's CFFI bindings cost every
    # other function's cold start about 2.5 ms. Argon2id at t=3, m=64 MiB (RFC 9106's second
    # profile) with one lane: each lane is a thread, and four lanes on a 2-core instance took
    # every core from the other requests for the hash's length. An attacker's cost is the
    # same (memory times passes); the hash takes one core for about 100-170 ms. Hashes made
    # with four lanes still verify, and are redone with one at their next sign-in.
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1)


def hash_password(password: str) -> str:
    """An Argon2id PHC string (salt and parameters inside) for `password`."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; a malformed hash is a mismatch, never an error."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_password_for_unknown_account(password: str) -> None:
    """Spend the time a real check spends, so an unknown email answers as slowly as a known one."""
    verify_password(_dummy_hash(), password)


@cache
def _dummy_hash() -> str:
    # Hashed with the live parameters, so its check costs exactly what a user's does.
    return _hasher().hash(secrets.token_urlsafe(32))


def password_needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    from argon2.exceptions import InvalidHashError

    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


# --- opaque tokens -----------------------------------------------------------------------


def new_opaque_token() -> str:
    """A random bearer secret (256 bits), for refresh tokens and the like."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored instead of an opaque token: its SHA-256, hex (the token has 256 bits of
    entropy, so a fast hash is enough; a stolen table yields nothing usable)."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- access tokens -----------------------------------------------------------------------


@dataclass(frozen=True)
class TokenConfig:
    """Keys and claims of access tokens."""

    keys: Mapping[str, bytes]
    active_kid: str
    issuer: str
    audience: str
    ttl_s: int
    #: Reads the keys again, for a kid not among `keys` (keys from a secret store, which may
    #: have rotated since they were cached); None when the keys are settings.
    reread_keys: Callable[[], Mapping[str, bytes]] | None = field(
        default=None, compare=False, repr=False
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenConfig:
        """The keys of RETOUCH_JWT_KEYS, or those read through RETOUCH_JWT_KEYS_SECRET
        (SecretUnavailable, a 503, when they cannot be read)."""
        current = signing_keys(settings)
        return cls(
            keys=_key_bytes(current),
            active_kid=current.active_kid,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_s=settings.access_token_ttl_s,
            reread_keys=(
                (lambda: _key_bytes(signing_keys(settings, refresh=True)))
                if settings.jwt_keys_secret
                else None
            ),
        )


def _key_bytes(current: SigningKeys) -> dict[str, bytes]:
    return {kid: key.get_secret_value().encode() for kid, key in current.keys.items()}


@dataclass(frozen=True)
class AccessClaims:
    """The verified content of an access token."""

    subject: str  # the user's public id
    role: str
    jti: str
    session_id: str  # the refresh token family this token was issued with
    issued_at: int
    expires_at: int

    def remaining_s(self, now: float | None = None) -> int:
        """Seconds until expiry (at least 1, so a deny-list entry always has a TTL)."""
        return max(1, self.expires_at - int(time.time() if now is None else now))


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    claims: AccessClaims


def issue_access_token(
    *, config: TokenConfig, subject: str, role: str, session_id: str, now: int | None = None
) -> IssuedAccessToken:
    """Sign a new access token with the active key."""
    issued_at = int(time.time()) if now is None else now
    claims = AccessClaims(
        subject=subject,
        role=role,
        jti=uuid.uuid4().hex,
        session_id=session_id,
        issued_at=issued_at,
        expires_at=issued_at + config.ttl_s,
    )
    payload = {
        "iss": config.issuer,
        "aud": config.audience,
        "sub": subject,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "jti": claims.jti,
        "role": role,
        "sid": session_id,
    }
    token = sign_token(config, payload, typ=ACCESS_TOKEN_TYPE)
    return IssuedAccessToken(token=token, claims=claims)


def sign_token(config: TokenConfig, payload: dict[str, Any], *, typ: str) -> str:
    """`payload` as a JWT signed with the active key (`kid` and `typ` in its header)."""
    return jwt.encode(
        payload,
        config.keys[config.active_kid],
        algorithm=ALGORITHM,
        headers={"kid": config.active_kid, "typ": typ},
    )


def verify_access_token(token: str, *, config: TokenConfig) -> AccessClaims:
    """The claims of a valid access token; TokenExpired or Unauthenticated otherwise.

    RFC 8725: the algorithm comes from our allowlist, never from the token (so `none` and
    algorithm confusion fail); the key is looked up by `kid` in our own map (never fetched);
    `typ`, `iss` and `aud` must be ours and every claim we rely on must be present. A token
    this instance verified before answers from `_verified` while its key, issuer, audience
    and expiry still hold.
    """
    verified = _verified.get(
        token, keys=config.keys, issuer=config.issuer, audience=config.audience
    )
    if verified is not None:
        return verified
    header = _header(token)
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise Unauthenticated("The access token is invalid")
    keys = config.keys
    if kid not in keys and config.reread_keys is not None:
        keys = config.reread_keys()  # once: a key added by a rotation since the keys were read
    if kid not in keys:
        raise Unauthenticated("The access token is invalid")
    if header.get("typ") != ACCESS_TOKEN_TYPE:
        raise Unauthenticated("The token is not an access token")
    try:
        payload = jwt.decode(
            token,
            keys[kid],
            algorithms=[ALGORITHM],
            audience=config.audience,
            issuer=config.issuer,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("The access token has expired") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("The access token is invalid") from None
    claims = _claims(payload)
    _verified.put(token, claims, kid=kid, key=keys[kid], issuer=config.issuer,
                  audience=config.audience, expires_at=claims.expires_at)  # fmt: skip
    return claims


def _header(token: str) -> dict[str, Any]:
    # Read by hand: PyJWT's get_unverified_header validates the whole token's alphabet, which
    # `jwt.decode` does again (about 40 µs each). A bad header fails here or in decode.
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):  # UnicodeDecodeError and JSONDecodeError included
        raise Unauthenticated("The access token is invalid") from None
    if not isinstance(header, dict):
        raise Unauthenticated("The access token is invalid")
    return header


def _claims(payload: dict[str, Any]) -> AccessClaims:
    texts: dict[str, str] = {}
    for name in ("sub", "role", "jti", "sid"):
        value = payload.get(name)
        if not isinstance(value, str) or not value:
            raise Unauthenticated("The access token is invalid")
        texts[name] = value
    return AccessClaims(
        subject=texts["sub"],
        role=texts["role"],
        jti=texts["jti"],
        session_id=texts["sid"],
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
    )


# --- derived keys ------------------------------------------------------------------------


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A 32-byte key for `purpose` (e.g. `"cursor"`), derived from the active JWT key with
    HMAC-SHA256, so signed cursors need no secret of their own; rotating the JWT key
    rotates it (an old cursor then fails with 422 and the client starts its list again)."""
    secret = signing_keys(settings).active_key()
    return hmac.new(secret, b"retouch/derived/" + purpose.encode(), hashlib.sha256).digest()
