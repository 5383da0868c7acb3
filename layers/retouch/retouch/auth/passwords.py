"""Password reset and change.

Reset: `request_reset` mails a link holding a fresh token (256 random bits; only its SHA-256
is stored, `password_resets`) valid for `RETOUCH_PASSWORD_RESET_TTL_S`, to an active account's
address. It answers the same for every address, known or not, and no sooner than
`RETOUCH_PASSWORD_RESET_FLOOR_MS`, so neither the answer nor its timing says whether an
account exists. `reset_password` spends the token — once: it and every other open token of
the user are marked used — sets the new password and revokes every session of the user (their
access tokens stop with them). A token unknown, spent or expired is `RESET_TOKEN_INVALID`.
The mailed token also proves the address: a reset verifies an unverified account
(`auth.verification.verify_address`).

Change: `change_password` checks the current password, sets the new one and revokes every
other session of the user; the caller's own stays signed in.

Every hash and verification holds a hashing slot (`auth.hashing`); each change leaves an
audit row (`auth.events`).
"""

from __future__ import annotations

from datetime import timedelta

from retouch.auth import events
from retouch.auth.hashing import hashing_slot
from retouch.auth.mails import reset_mail
from retouch.auth.resets import MySQLPasswordResetRepository
from retouch.auth.timing import no_sooner_than
from retouch.auth.verification import verify_address
from retouch.caller.cached import forget_caller
from retouch.caller.repository import MySQLRefreshTokenRepository
from retouch.core.db import Database
from retouch.core.errors import AppError
from retouch.core.identity import Principal
from retouch.core.logging import logger
from retouch.core.security import hash_password, new_opaque_token, token_digest, verify_password
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.notify.mailer import Mailer
from retouch.notify.messages import NotifierError
from retouch.users.repository import MySQLUserRepository


class ResetTokenInvalid(AppError):
    """The reset token is unknown, spent or expired: one answer for all three."""

    code = "RESET_TOKEN_INVALID"

    def __init__(self) -> None:
        super().__init__("The reset link is invalid, used or expired; request a new one")


class CurrentPasswordWrong(AppError):
    code = "CURRENT_PASSWORD_WRONG"

    def __init__(self) -> None:
        super().__init__("The current password is wrong")


def request_reset(
    *,
    database: Database,
    settings: Settings,
    mailer: Mailer,
    email: str,
    language: str,
    clock: Clock = utc_now,
) -> None:
    """Mail a reset link if `email` is an active account's; the same for any address."""
    with no_sooner_than(settings.password_reset_floor_ms):
        token, now = new_opaque_token(), clock()
        with database.unit_of_work() as uow:
            user = MySQLUserRepository(uow).get_by_email(email)
            if user is None or user.status != "active":
                return
            MySQLPasswordResetRepository(uow).add(
                token_hash=token_digest(token),
                user_id=user.id,
                now=now,
                expires_at=now + timedelta(seconds=settings.password_reset_ttl_s),
            )
            uow.commit()
        link = settings.password_reset_url + token
        mail = reset_mail(
            to=user.email, link=link, ttl_s=settings.password_reset_ttl_s, language=language
        )
        try:
            mailer.send(mail)
        except NotifierError as exc:  # the answer must not differ: the user asks again
            logger.warning("password reset mail not sent", extra={"error": str(exc)})


def reset_password(
    *,
    database: Database,
    settings: Settings,
    token: str,
    new_password: str,
    clock: Clock = utc_now,
) -> None:
    """Spend `token` and set `new_password`; every session of the user is revoked."""
    digest = token_digest(token)
    with database.unit_of_work() as uow:  # refuse a bad token before paying for a hash
        found = MySQLPasswordResetRepository(uow).get(digest)
    if found is None or not found.usable(clock()):
        raise ResetTokenInvalid
    with hashing_slot(settings):
        password_hash = hash_password(new_password)
    now = clock()
    with database.unit_of_work() as uow:
        resets = MySQLPasswordResetRepository(uow)
        current = resets.get(digest, for_update=True)
        users = MySQLUserRepository(uow)
        user = None if current is None else users.get_by_id(current.user_id)
        if current is None or not current.usable(now) or user is None or user.status != "active":
            raise ResetTokenInvalid
        users.update_password_hash(user.id, password_hash)
        resets.spend_all_of_user(user.id, at=now)
        verify_address(uow, user=user, now=now)  # the mailed token proved the address too
        revoked = MySQLRefreshTokenRepository(uow).revoke_all_of_user(user.id, at=now)
        events.password_set(uow, user=user, action=events.PASSWORD_RESET, revoked=revoked)
        uow.commit()
    forget_caller(user.public_id)
    logger.info("password reset", extra={"user_id": user.public_id, "revoked_tokens": revoked})


def change_password(
    *,
    database: Database,
    settings: Settings,
    principal: Principal,
    current_password: str,
    new_password: str,
    clock: Clock = utc_now,
) -> None:
    """Set `new_password` if `current_password` is the caller's; their other sessions end."""
    user = principal.user
    with hashing_slot(settings):
        if not verify_password(user.password_hash, current_password):
            raise CurrentPasswordWrong
        password_hash = hash_password(new_password)
    now = clock()
    with database.unit_of_work() as uow:
        MySQLUserRepository(uow).update_password_hash(user.id, password_hash)
        MySQLPasswordResetRepository(uow).spend_all_of_user(user.id, at=now)
        revoked = MySQLRefreshTokenRepository(uow).revoke_others_of_user(
            user.id, keep_family=principal.claims.session_id, at=now
        )
        events.password_set(uow, user=user, action=events.PASSWORD_CHANGE, revoked=revoked)
        uow.commit()
    forget_caller(user.public_id)
    logger.info("password changed", extra={"user_id": user.public_id, "revoked_tokens": revoked})
