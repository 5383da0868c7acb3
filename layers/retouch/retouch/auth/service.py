"""Auth use cases: register, login and logout (refresh, the session's rotation, is in
`retouch.auth.refresh`; the attempt limits in `retouch.auth.attempts`; the address's
verification, which starts the first session of a new account, in
`retouch.auth.verification`).

A session is a refresh token family, started by verification or login and ended by logout or
by reuse detection. Revoking a family also denies its access tokens: each names its family
(`sid`), and `caller.authenticate` reads the family's revocation in the same statement as the
account. Failed logins, reuse and sign-outs leave audit rows (`retouch.auth.events`).
"""

from __future__ import annotations

from datetime import datetime

from retouch.auth import events
from retouch.auth.attempts import LoginGuard
from retouch.auth.errors import InvalidCredentials
from retouch.auth.hashing import hashing_slot
from retouch.auth.mails import already_registered_mail
from retouch.auth.schemas import TokenPair
from retouch.auth.tokens import start_session, token_pair
from retouch.auth.verification import new_verification, send_verification
from retouch.caller.cached import forget_caller
from retouch.caller.repository import MySQLRefreshTokenRepository
from retouch.core.db import Database, UnitOfWork
from retouch.core.identity import Principal
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.messages import DEFAULT_LANGUAGE
from retouch.core.security import (
    hash_password,
    password_needs_rehash,
    verify_password,
    verify_password_for_unknown_account,
)
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.notify.mailer import Mailer
from retouch.notify.messages import NotifierError
from retouch.quota.service import open_account
from retouch.users.errors import EmailTaken
from retouch.users.repository import MySQLUserRepository


def register(
    *,
    database: Database,
    settings: Settings,
    email: str,
    password: str,
    mailer: Mailer,
    language: str = DEFAULT_LANGUAGE,
    clock: Clock = utc_now,
) -> None:
    """Create an unverified account (its credits wait for verification, `auth.verification`)
    and mail its verification link; for an address with an account, mail its owner that
    someone tried instead. Either way the same work is done (a hash, a transaction, a mail)
    and nothing is answered that tells which it was."""
    with hashing_slot(settings):  # before the transaction: no lock waits on Argon2
        password_hash = hash_password(password)
    now = clock()
    try:
        with database.unit_of_work() as uow:
            user = MySQLUserRepository(uow).add(
                public_id=new_public_id("usr"),
                email=email,
                password_hash=password_hash,
                now=now,
                verified=False,
            )
            open_account(
                uow=uow,
                user_id=user.id,
                clock=clock,
                verified=False,
                allowance=settings.unverified_allowance,
            )
            mailed = new_verification(uow, settings, user_id=user.id, now=now)
            uow.commit()
    except EmailTaken:
        _tell_owner(mailer, email=email, language=language)  # the transaction is over
        return
    logger.info("user registered", extra={"user_id": user.public_id})
    send_verification(mailer, settings, to=email, mailed=mailed, language=language)


def _tell_owner(mailer: Mailer, *, email: str, language: str) -> None:
    try:
        mailer.send(already_registered_mail(to=email, language=language))
    except NotifierError as exc:
        logger.warning("already-registered mail not sent", extra={"error": str(exc)})


def login(
    *,
    database: Database,
    guard: LoginGuard,
    settings: Settings,
    email: str,
    password: str,
    client: str,
    client_ip: str,
    clock: Clock = utc_now,
) -> TokenPair:
    """Check the password and start a session; one 401 for every kind of wrong, each
    audited; 429 while a limit is spent or the account is locked (`attempts`)."""
    guard.admit(email=email, client_ip=client_ip)
    now = clock()
    with database.unit_of_work() as uow:
        pair = _sign_in(
            uow,
            settings,
            email=email,
            password=password,
            client=client,
            client_ip=client_ip,
            now=now,
        )
        uow.commit()  # the session, or the failure's audit row
    if pair is None:
        guard.failed(settings, email=email)
        raise InvalidCredentials
    guard.succeeded(settings, email=email, client_ip=client_ip)
    return pair


def logout(*, database: Database, principal: Principal, clock: Clock = utc_now) -> None:
    """End the caller's session: its refresh tokens and, with them, its access tokens (the
    one presented included) stop working at once."""
    session_id = principal.claims.session_id
    with database.unit_of_work() as uow:
        MySQLRefreshTokenRepository(uow).revoke_family(session_id, at=clock())
        events.logged_out(uow, user=principal.user, session_id=session_id)
        uow.commit()
    forget_caller(principal.public_id)
    logger.info("user signed out", extra={"user_id": principal.public_id})


def _sign_in(
    uow: UnitOfWork,
    settings: Settings,
    *,
    email: str,
    password: str,
    client: str,
    client_ip: str,
    now: datetime,
) -> TokenPair | None:
    """A new session of the account, or None, with the failure's audit row, when `password`
    does not sign it in (unknown email, wrong password or disabled account alike)."""
    users = MySQLUserRepository(uow)
    user = users.get_by_email(email)
    with hashing_slot(settings):
        if user is None:
            verify_password_for_unknown_account(password)  # as long as a real check
            failure: str | None = "unknown_account"
        elif not verify_password(user.password_hash, password):
            failure = "wrong_password"
        else:
            failure = None if user.status == "active" else "account_disabled"
    if user is None or failure is not None:
        events.login_failed(
            uow, email=email, account=user, reason=failure or "", client_ip=client_ip
        )
        return None
    if password_needs_rehash(user.password_hash):
        with hashing_slot(settings):
            users.update_password_hash(user.id, hash_password(password))
    refresh_token, session_id = start_session(uow, settings, user=user, client=client, now=now)
    return token_pair(settings, user, refresh_token=refresh_token, session_id=session_id)
