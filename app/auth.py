"""Sign-in for the dashboards: a user of a tenant, checked against the API's password hashes.

The reader role cannot read `crm.users` and never sees a hash: `crm.signin_challenge(email)`
(migration 1401) gives the argon2id parameters and salt of each active account with that
e-mail (made-up ones when there is none, so the work is the same), this process derives the
hash of the password typed (`crm.security.hash_with`), and `crm.signin_verify` returns the
accounts whose stored hash it is. The account is found by the e-mail's sign-in index (a key
of the deployment's, read by this role: `crm.keys.staff`), and its e-mail and name come back
sealed under its tenant's data key, opened here once the tenant is known. The signed-in user's
tenant is what every query of the session is filtered to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from crm.db import libpq_url
from crm.keys import staff
from crm.keys.keyring import keyring
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
    ring = keyring(libpq_url(engine.url.render_as_string(hide_password=False)))
    found = staff.email_params(email, ring)
    with engine.connect() as conn:
        challenges = conn.execute(
            text("select * from crm.signin_challenge(cast(:email_bidx as text[]), :email)"), found
        ).all()
        hashes = [hash_with(c.settings, c.hash_len, password) for c in challenges]
        rows = [
            staff.open_row(r["tenant_id"], dict(r), ring)
            for r in conn.execute(
                text(
                    "select * from crm.signin_verify(cast(:email_bidx as text[]), :email, cast(:hashes as text[]))"
                ),
                found | {"hashes": hashes},
            ).mappings()
        ]
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
