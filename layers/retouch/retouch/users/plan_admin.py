"""Plans edited by admins: `GET /v1/admin/plans` and `PUT /v1/admin/plans/{code}`.

A plan carries a version, counted by each edit. An edit names the version it was made
against in `If-Match` (`"3"`, as the list shows it): a plan changed by someone else since is
PlanVersionStale (412), none named is PlanVersionRequired (428), and the update itself is
conditional on the version, so of two edits against one version exactly one lands. Edits are
validated (features from the feature catalogue, the default plan never archived) and audited
`plan.update` with the plan before and after.

A plan is never deleted (memberships and orders name it): `archived` takes it out of the
catalogue (`GET /v1/plans`) and out of new memberships and orders; its current members keep
it until their expiry. `GET /v1/plans` is read from the database on every request (the
answer is cacheable for 60 s by clients and CDNs), so an edit shows at once on the origin.
"""

from __future__ import annotations

from retouch.audit.repository import AuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.core.db import Database
from retouch.core.errors import FieldError, NotFound, ValidationFailed
from retouch.core.identity import Principal
from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction
from retouch.quota.errors import PlanVersionRequired, PlanVersionStale
from retouch.quota.repository import PlanRepository
from retouch.quota.schemas import PlanAdminList, PlanAdminRead, PlanEdit


def list_plans(*, database: Database) -> PlanAdminList:
    """Every plan, archived ones included, lowest priority first."""
    with database.unit_of_work() as uow:
        plans = uow.repository(PlanRepository).list(archived=True)
    return PlanAdminList(items=[PlanAdminRead.of(plan) for plan in plans])


def edit_plan(
    *,
    database: Database,
    settings: Settings,
    actor: Principal,
    code: str,
    edit: PlanEdit,
    if_match: str | None,
    request_id: str | None,
    clock: Clock = utc_now,
) -> PlanAdminRead:
    """Replace the plan's fields if `if_match` names its current version (see the module)."""
    expected = _version(if_match)
    with database.unit_of_work() as uow:
        plans = uow.repository(PlanRepository)
        before = plans.get(code)
        if before is None:
            raise NotFound("No such plan")
        _validate(uow, settings, code, edit)
        if before.version != expected or not plans.edit(code, edit, version=expected, now=clock()):
            raise PlanVersionStale(
                "The plan's version is {version}, not {expected}",
                version=before.version,
                expected=expected,
            )
        after = plans.get(code)
        if after is None:  # pragma: no cover - updated in this transaction
            raise NotFound("No such plan")
        uow.repository(AuditRepository).add(
            AuditEntry(
                actor_user_id=actor.user.id,
                action="plan.update",
                target_type="plan",
                target_id=code,
                request_id=request_id,
                before=PlanAdminRead.of(before).model_dump(mode="json"),
                after=PlanAdminRead.of(after).model_dump(mode="json"),
            )
        )
        uow.commit()
    logger.info("plan edited", extra={"plan": code, "version": after.version})
    return PlanAdminRead.of(after)


def _version(if_match: str | None) -> int:
    """The version named by `If-Match`: `"3"` (a weak `W/"3"` is taken alike); 0, which no
    plan has, for anything else."""
    if if_match is None:
        raise PlanVersionRequired("Send If-Match with the plan's version")
    tag = if_match.strip().removeprefix("W/").strip('"')
    return int(tag) if tag.isdigit() and len(tag) <= 9 else 0


def _validate(uow: Transaction, settings: Settings, code: str, edit: PlanEdit) -> None:
    errors: list[FieldError] = []
    known = uow.repository(PlanRepository).feature_keys()
    for index, key in enumerate(edit.features):
        if key not in known:
            errors.append(
                FieldError(
                    f"body.features[{index}]", "no such feature in the catalogue", "feature_unknown"
                )
            )
    if edit.archived and code == settings.default_plan:
        errors.append(
            FieldError("body.archived", "the default plan cannot be archived", "plan_default")
        )
    if errors:
        raise ValidationFailed("The plan is invalid", errors=errors)
