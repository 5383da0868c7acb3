"""Helpers of the identity tests: the auth and users functions behind one client, fresh
accounts, roles set the way an operator would (SQL: there is no route that makes an admin),
and forged tokens signed with the test run's key."""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from typing import Any

import httpx
import jwt
from fastapi.testclient import TestClient

from retouch.auth.schemas import EmailVerification, TokenPair
from retouch.auth.service import register
from retouch.auth.verification import verify_email
from retouch.caller.cached import forget_caller
from retouch.core.db import get_database
from retouch.core.ids import new_public_id
from retouch.core.security import TokenConfig, hash_password, issue_access_token
from retouch.core.settings import get_settings
from retouch.core.time import utc_now
from retouch.quota.service import open_account
from retouch.users.repository import MySQLUserRepository
from scripts.local.alert_sinks import MailSink
from tests.conftest import TEST_JWT_KID, load_function
from tests.fakes.mailer import RecordingMailer

PASSWORD = "Correct-Horse-7"


def new_email(prefix: str = "id") -> str:
    return f"{prefix}-{secrets.token_hex(6)}@example.com"


def new_client_ip() -> str:
    """A documentation-range address per test, so login limits of one test never touch
    another's (addresses are labels here; nothing is sent to them)."""
    return f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def mail_to(sink: MailSink, email: str) -> EmailMessage:
    """The last mail the sink received for `email` (waiting a little for it)."""
    for _ in range(50):
        found = [m for m in sink.messages if m["To"] == email]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no mail to {email}")


def link_token(message: EmailMessage, link: str) -> str:
    """The token at the end of the mailed link that starts with `link`."""
    body = message.get_body(("plain",))
    assert body is not None
    text = str(body.get_content())
    assert link in text, text
    return text.split(link, 1)[1].split()[0]


@dataclass
class Api:
    """The auth and users functions, called from one client address; account mail reaches
    `mail`."""

    auth: TestClient
    users: TestClient
    mail: MailSink

    def register(self, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
        """Register, read the verification mail and verify: the first token pair."""
        email = email or new_email()
        response = self.auth.post("/v1/auth/register", json={"email": email, "password": password})
        assert response.status_code == 202, response.text
        link = get_settings().email_verification_url
        token = link_token(mail_to(self.mail, email), link)
        verified = self.auth.post("/v1/auth/verify", json={"token": token})
        assert verified.status_code == 200, verified.text
        return verified.json()  # type: ignore[no-any-return]

    def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        body = {"email": email, "password": password}
        response: httpx.Response = self.auth.post("/v1/auth/login", json=body)
        return response

    def refresh(self, refresh_token: str) -> httpx.Response:
        body = {"refresh_token": refresh_token}
        response: httpx.Response = self.auth.post("/v1/auth/refresh", json=body)
        return response

    def me(self, access_token: str) -> httpx.Response:
        response: httpx.Response = self.users.get("/v1/me", headers=bearer(access_token))
        return response

    def signed_in(self, role: str = "user") -> tuple[dict[str, Any], dict[str, str]]:
        """A new account with `role`: its user fields and an Authorization header."""
        return new_account(role)


def new_account(role: str = "user") -> tuple[dict[str, Any], dict[str, str]]:
    """An account made without the register route (which its own tests cover), so the many
    callers of the admin tests do not each pay an Argon2 hash; its token is a real one."""
    with get_database().unit_of_work() as uow:
        user = MySQLUserRepository(uow).add(
            public_id=new_public_id("usr"),
            email=new_email(),
            password_hash=_hash(),
            now=utc_now(),
            verified=True,
        )
        open_account(uow=uow, user_id=user.id)
        uow.execute("UPDATE users SET role = %s WHERE id = %s", (role, user.id))
        uow.commit()
    token = issue_access_token(
        config=TokenConfig.from_settings(get_settings()),
        subject=user.public_id,
        role=role,
        session_id=new_public_id("ses"),
    )
    fields = {"id": user.public_id, "email": user.email, "role": role}
    return fields, bearer(token.token)


def sign_up(email: str | None = None, password: str = PASSWORD) -> TokenPair:
    """An account made through the auth service, as a newcomer makes one: registered, then
    verified with the token of the mailed link; the first token pair."""
    email, settings, inbox = email or new_email("signup"), get_settings(), RecordingMailer()
    register(
        database=get_database(), settings=settings, email=email, password=password, mailer=inbox
    )
    token = inbox.token(email, after=settings.email_verification_url)
    return verify_email(
        database=get_database(),
        settings=settings,
        proof=EmailVerification(token=token),
        client=None,
    )


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


def apps() -> tuple[Any, Any]:
    auth = load_function("functions/http/auth/app.py").app
    users = load_function("functions/http/users/app.py").app
    return auth, users


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_access(public_id: str, *, role: str | None = None, status: str | None = None) -> None:
    """Change the account in SQL as an operator would, then invalidate its cached caller
    record as such a change must (docs/performance.md, "The caller from Redis")."""
    with get_database().unit_of_work() as uow:
        if role is not None:
            uow.execute("UPDATE users SET role = %s WHERE public_id = %s", (role, public_id))
        if status is not None:
            uow.execute("UPDATE users SET status = %s WHERE public_id = %s", (status, public_id))
        uow.commit()
    forget_caller(public_id)


def internal_id(public_id: str) -> int:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SELECT id FROM users WHERE public_id = %s", (public_id,))
    assert row is not None
    return int(row["id"])


def audit_rows(target: str, *, sign_up: bool = False) -> list[dict[str, Any]]:
    """The audit rows about `target` (a user's public id, a feature or provider key, a masked
    email), oldest first, with the actor's public id (None: an anonymous event). The row of
    the address's verification, which every sign-up writes, only with `sign_up`."""
    with get_database().unit_of_work() as uow:
        rows = uow.fetch_all(
            "SELECT a.action, a.target_type, a.target_id, a.before_state, a.after_state, "
            "a.request_id, a.client_request_id, u.public_id AS actor FROM audit_logs a "
            "LEFT JOIN users u ON u.id = a.actor_user_id WHERE a.target_id = %s "
            "AND (%s OR a.action <> 'auth.email_verified') ORDER BY a.id",
            (target, sign_up),
        )
    return [
        {
            **row,
            # A creation (e.g. a new provider config) has no before state.
            "before_state": None
            if row["before_state"] is None
            else json.loads(row["before_state"]),
            "after_state": json.loads(row["after_state"]),
        }
        for row in rows
    ]


def signing_key() -> bytes:
    """The run's signing key (tests/conftest.py BASE_ENV, in the environment by now)."""
    return str(json.loads(os.environ["RETOUCH_JWT_KEYS"])[TEST_JWT_KID]).encode()


def access_claims(subject: str, **overrides: Any) -> dict[str, Any]:
    """The claims our issuer puts in an access token for `subject`, with `overrides`."""
    now = int(time.time())
    return {
        "iss": "retouch",
        "aud": "retouch-api",
        "sub": subject,
        "role": "user",
        "sid": "ses_forged",
        "jti": secrets.token_hex(16),
        "iat": now,
        "exp": now + 600,
        **overrides,
    }


def forged(
    subject: str,
    *,
    key: bytes | None = None,
    algorithm: str = "HS256",
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """An access token for `subject` as our issuer would sign it, with any part overridden."""
    headers = {"kid": TEST_JWT_KID, "typ": "at+jwt", **(header or {})}
    payload = access_claims(subject, **claims)
    return jwt.encode(payload, key or signing_key(), algorithm=algorithm, headers=headers)


def b64_json(data: dict[str, Any]) -> str:
    """A JWT segment: base64url of `data` as JSON, unpadded."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def alg_none_token(subject: str) -> str:
    """An unsigned token (`alg: none`) claiming `subject` is an admin."""
    header = {"alg": "none", "kid": TEST_JWT_KID, "typ": "at+jwt"}
    return f"{b64_json(header)}.{b64_json(access_claims(subject, role='admin'))}."


def tampered_token(subject: str) -> str:
    """A real signature of ours over claims edited afterwards (role admin)."""
    header, _, signature = forged(subject).split(".")
    return f"{header}.{b64_json(access_claims(subject, role='admin'))}.{signature}"
