"""Sign-in for the dashboards: a user of a tenant, checked against the API's password hashes.

The reader role cannot read `crm.users` and never sees a hash: `crm.signin_challenge(email)`
(migration 1401) gives the argon2id parameters and salt of each active account with that
e-mail (made-up ones when there is none, so the work is the same), this process derives the
hash of the password typed (`crm.security.hash_with`), and `crm.signin_verify` returns the
accounts whose stored hash it is. The signed-in user's tenant is what every query of the
session is filtered to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from crm.security import hash_with

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
        challenges = conn.execute(text("select * from crm.signin_challenge(:email)"), {"email": email}).all()
        hashes = [hash_with(c.settings, c.hash_len, password) for c in challenges]
        rows = (
            conn.execute(
                text("select * from crm.signin_verify(:email, cast(:hashes as text[]))"),
                {"email": email, "hashes": hashes},
            )
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
    ]
