"""Roles and the one permission table: which role may do what.

Routes never name roles directly; they require a permission (`require_permission` in
retouch.caller.dependencies), and this table alone decides which roles hold it.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

Role = Literal["user", "operator", "admin"]
ROLES: tuple[Role, ...] = ("user", "operator", "admin")


class Permission(str, Enum):  # not StrEnum (3.11+): SCF runs Python 3.10
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"  # role and status
    CREDITS_GRANT = "credits:grant"
    CONFIG_READ = "config:read"  # features, forms, pipelines, providers
    CONFIG_WRITE = "config:write"  # features, forms, pipelines
    # Provider configs name where a vendor is and which secret it reads: an outbound address
    # and a secret reference, so only admins may change them.
    PROVIDERS_WRITE = "providers:write"
    METRICS_READ = "metrics:read"
    CACHE_INVALIDATE = "cache:invalidate"
    AUDIT_READ = "audit:read"
    # Moving dead letters back runs their steps again (vendor calls cost money): admins only.
    QUEUES_REDRIVE = "queues:redrive"
    # Refunds give money back: admins only.
    ORDERS_REFUND = "orders:refund"
    # Plans set what users get for their money: admins only.
    PLANS_WRITE = "plans:write"
    # Alert rules decide who is woken at night and when an outage stays silent: admins only.
    ALERTS_WRITE = "alerts:write"


# Operators run the product (config but providers, read-only user data, metrics); admins do
# everything.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    "user": frozenset(),
    "operator": frozenset(
        {
            Permission.USERS_READ,
            Permission.CONFIG_READ,
            Permission.CONFIG_WRITE,
            Permission.METRICS_READ,
            Permission.CACHE_INVALIDATE,
        }
    ),
    "admin": frozenset(Permission),
}


def roles_with(permission: Permission) -> tuple[Role, ...]:
    """The roles that hold `permission`, in ROLES order."""
    return tuple(role for role in ROLES if permission in PERMISSIONS[role])
