"""Email verification: a sign-up's address is proved by a mailed, single-use token.

Register (`auth.service.register`) creates the account unverified, with no credits but the
unverified allowance (`RETOUCH_UNVERIFIED_ALLOWANCE`, 0) and no period grants, and mails a
link holding a fresh token (256 random bits; only its SHA-256 is stored,
`email_verifications`) valid `RETOUCH_EMAIL_VERIFICATION_TTL_S`, and a short code to type
with the address instead (8 characters; stored as an HMAC of the user id and the code under a
key derived from the signing key, its guesses limited per address by
`auth.signup.admit_code_attempt`). `verify_email` spends the
token — once: it and every other open token of the user are marked used — marks the address
verified, opens the account's period grants (the default plan's credits, once: the account
row is locked and the grants open on a conditional update), ends every earlier session of
the account (one started by whoever registered the address before its owner proved it) and
signs the owner in. A token or code unknown, spent or expired is `VERIFICATION_TOKEN_INVALID`.

`resend` mails a new link to an active, unverified account; it answers the same for every
address, no sooner than `RETOUCH_EMAIL_VERIFICATION_FLOOR_MS`. A password reset proves the
address as well (`verify_address`, from `auth.passwords`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from retouch.auth import events
from retouch.auth.mails import verification_mail
from retouch.auth.resets import MySQLEmailVerificationRepository
from retouch.auth.schemas import EmailVerification, TokenPair
from retouch.auth.timing import no_sooner_than
from retouch.auth.tokens import start_session, token_pair
from retouch.caller.cached import forget_caller
from retouch.caller.repository import MySQLRefreshTokenRepository
from retouch.core.db import Database, UnitOfWork
from retouch.core.errors import AppError
from retouch.core.identity import User
from retouch.core.logging import logger
from retouch.core.security import derived_key, new_opaque_token, token_digest
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.notify.mailer import Mailer
from retouch.notify.messages import NotifierError
from retouch.quota.service import open_period_grants
from retouch.users.repository import MySQLUserRepository

_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class VerificationTokenInvalid(AppError):
    """The verification token is unknown, spent or expired: one answer for all three."""

    code = "VERIFICATION_TOKEN_INVALID"

    def __init__(self) -> None:
        super().__init__("The verification link is invalid, used or expired; request a new one")


@dataclass(frozen=True)
class Mailed:
    """What a verification mail carries: the link's token and the short code."""

    token: str
    code: str


def new_code() -> str:
    """8 characters of an alphabet without look-alikes (about 39 bits), shown ABCD-EFGH."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def code_digest(settings: Settings, user_id: int, code: str) -> str:
    """What is stored of a code: bound to its user, so a code alone finds nobody, and keyed
    (a stolen table cannot be searched offline for 39-bit codes; a rotated signing key ends
    open codes, not links)."""
    normal = code.replace("-", "").replace(" ", "").upper()
    key = derived_key(settings, "verification-code")
    return hmac.new(key, f"{user_id}:{normal}".encode(), hashlib.sha256).hexdigest()


def new_verification(uow: UnitOfWork, settings: Settings, *, user_id: int, now: datetime) -> Mailed:
    """Store a new verification token and code of the user (in the caller's transaction)."""
    mailed = Mailed(token=new_opaque_token(), code=new_code())
    MySQLEmailVerificationRepository(uow).add_with_code(
        token_hash=token_digest(mailed.token),
        code_hash=code_digest(settings, user_id, mailed.code),
        user_id=user_id,
        now=now,
        expires_at=now + timedelta(seconds=settings.email_verification_ttl_s),
    )
    return mailed


def send_verification(
    mailer: Mailer, settings: Settings, *, to: str, mailed: Mailed, language: str
) -> None:
    """Mail the link and the code; a mail that cannot be sent is logged (the owner asks for
    another)."""
    mail = verification_mail(
        to=to,
        link=settings.email_verification_url + mailed.token,
        code=f"{mailed.code[:4]}-{mailed.code[4:]}",
        ttl_s=settings.email_verification_ttl_s,
        language=language,
    )
    try:
        mailer.send(mail)
    except NotifierError as exc:  # the answer must not differ: the user asks again
        logger.warning("verification mail not sent", extra={"error": str(exc)})


def verify_address(uow: UnitOfWork, *, user: User, now: datetime) -> int:
    """Mark the user's address verified and open their period grants (in the caller's
    transaction); the credits granted, 0 when it was verified already."""
    if not MySQLUserRepository(uow).mark_email_verified(user.id, at=now):
        return 0
    granted = open_period_grants(uow=uow, user_id=user.id, clock=lambda: now)
    events.email_verified(uow, user=user, granted=granted)
    return granted


def verify_email(
    *,
    database: Database,
    settings: Settings,
    proof: EmailVerification,
    client: str | None,
    clock: Clock = utc_now,
) -> TokenPair:
    """Spend the mailed token (or the address's code), verify the account's address and sign
    its owner in (a new session; every earlier one ends)."""
    now = clock()
    with database.unit_of_work() as uow:
        tokens, users = MySQLEmailVerificationRepository(uow), MySQLUserRepository(uow)
        if proof.token is not None:  # concurrent clicks queue on the row's lock
            found = tokens.get(token_digest(proof.token), for_update=True)
        else:
            owner = users.get_by_email(proof.email or "")
            digest = None if owner is None else code_digest(settings, owner.id, proof.code or "")
            found = None if digest is None else tokens.get_by_code(digest)
        # locked: an expiry of the unverified account (erasure.unverified) that committed
        # first is seen here, and one that comes later finds the account verified
        user = None if found is None else users.get_by_id(found.user_id, for_update=True)
        if found is None or not found.usable(now) or user is None or user.status != "active":
            raise VerificationTokenInvalid
        tokens.spend_all_of_user(user.id, at=now)
        granted = verify_address(uow, user=user, now=now)
        MySQLRefreshTokenRepository(uow).revoke_all_of_user(user.id, at=now)
        refresh_token, session_id = start_session(uow, settings, user=user, client=client, now=now)
        uow.commit()
    forget_caller(user.public_id)
    logger.info("email verified", extra={"user_id": user.public_id, "granted": granted})
    return token_pair(settings, user, refresh_token=refresh_token, session_id=session_id)


def resend(
    *,
    database: Database,
    settings: Settings,
    mailer: Mailer,
    email: str,
    language: str,
    clock: Clock = utc_now,
) -> None:
    """Mail a new link if `email` is an active, unverified account's; the same for any
    address, and no sooner than the floor."""
    with no_sooner_than(settings.email_verification_floor_ms):
        with database.unit_of_work() as uow:
            user = MySQLUserRepository(uow).get_by_email(email)
            if user is None or user.status != "active" or user.email_verified:
                return
            mailed = new_verification(uow, settings, user_id=user.id, now=clock())
            uow.commit()
        send_verification(mailer, settings, to=user.email, mailed=mailed, language=language)
