"""Roles, permissions and API key scopes: the permission matrix of the README, as data.

A principal holds a set of permissions. A user's come from the roles in its token; an API
key's are its scopes (any subset of `PERMISSIONS`). `sales_rep` alone is restricted to the
leads and deals assigned to it (`own_only`).
"""

from __future__ import annotations

from crm.enums import UserRole

PERMISSIONS: tuple[str, ...] = (
    "leads:read",
    "leads:write",
    "deals:read",
    "deals:write",
    "customers:read",
    "customers:write",
    "catalog:read",
    "catalog:write",
    "segments:read",
    "segments:write",
    "campaigns:read",
    "campaigns:write",
    "analytics:read",
    "tickets:read",
    "tickets:write",
    "conversations:read",
    "conversations:write",
    "webhooks:manage",
    "integrations:manage",
    "api_keys:manage",
)
READS = frozenset(p for p in PERMISSIONS if p.endswith(":read"))
ADMIN_ONLY = frozenset({"api_keys:manage", "webhooks:manage", "integrations:manage"})
"""Credentials and where the tenant's data goes: an admin's alone."""

ROLE_PERMISSIONS: dict[UserRole, frozenset[str]] = {
    UserRole.ADMIN: frozenset(PERMISSIONS),
    UserRole.MANAGER: frozenset(PERMISSIONS) - ADMIN_ONLY,
    UserRole.SALES_REP: READS | {"leads:write", "deals:write", "tickets:write", "conversations:write"},
    UserRole.ANALYST: READS,
}

UNRESTRICTED_ROLES = frozenset({UserRole.ADMIN, UserRole.MANAGER})
"""Roles that see every record of the tenant (a sales_rep sees its own leads and deals)."""


def permissions_for(roles: list[UserRole]) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for role in roles:
        out |= ROLE_PERMISSIONS[role]
    return out


def own_only(roles: list[UserRole]) -> bool:
    return UserRole.SALES_REP in roles and not (set(roles) & UNRESTRICTED_ROLES)
