"""Sign-in for the dashboards: a user of a tenant, checked against the API's password hashes.

The reader role cannot read `crm.users`; it may only call `crm.reader_signin_candidates(email)`
(migration 0301), which returns the active users with that e-mail and their argon2id hashes.
The hash is verified here with the shared `crm.security.verify_password`. The signed-in
user's tenant is what every query of the session is filtered to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from crm.security import verify_password

SESSION_KEY = "signed_in"


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    tenant_id: str
    tenant_slug: str
    tenant_name: str
    email: str
    full_name: str
    role: str


def authenticate(engine: Engine, email: str, password: str) -> list[SignedIn]:
    """Every tenant account with this e-mail whose password matches (usually zero or one)."""
    email = (email or "").strip()
    if not email or not password:
        return []
    with engine.connect() as conn:
        rows = (
            conn.execute(text("select * from crm.reader_signin_candidates(:email)"), {"email": email})
            .mappings()
            .all()
        )
    return [
        SignedIn(
            user_id=str(r["user_id"]),
            tenant_id=str(r["tenant_id"]),
            tenant_slug=r["tenant_slug"],
            tenant_name=r["tenant_name"],
            email=r["email"],
            full_name=r["full_name"] or r["email"],
            role=r["role"],
        )
        for r in rows
        if verify_password(r["password_hash"], password)
    ]
