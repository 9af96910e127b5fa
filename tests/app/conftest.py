"""Fixtures for the dashboards: a seeded, built world, a password per tenant manager, and
AppTest runs of any page as a signed-in user.

The world is the simulator's scale S (sink="raw") plus `dbt build` when those exist in the
checkout; without them the pages are tested for their empty states only.
"""

from __future__ import annotations

import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb
from signed_in import open_page
from streamlit.testing.v1 import AppTest

from app.auth import SignedIn
from crm.keys import staff
from crm.keys.keyring import keyring
from crm.security import hash_password


@dataclass
class World:
    url: str
    managers: list[SignedIn] = field(default_factory=list)
    password: str = ""


def _seed(url: str) -> None:
    """Seed scale S into raw.*, build the marts, train and score, then build the marts over ml.*."""
    from ml import jobs
    from sim import seed_world
    from warehouse.dbt import run_dbt

    seed_world(scale="S", seed=42, database_url=url, bootstrap=None, sink="raw", progress=False)

    target = Path(tempfile.mkdtemp(prefix="crm-app-dbt-"))
    # a failing data test of the warehouse must not hide the dashboards' own results
    run_dbt(
        ["build", "--quiet"],
        url,
        target_path=target / "target",
        log_path=target / "logs",
        check=False,
        timeout=1200,
    )
    with psycopg.connect(url) as conn:
        built = conn.execute("select to_regclass('analytics.dim_leads') is not null").fetchone()[0]
    assert built, "dbt build did not build the marts"
    jobs.train_all(url, seed=42)
    jobs.score_all(url, seed=42)
    # the marts that join ml.* (scores, dashboards' lead summary) run after scoring, as in Dagster
    run_dbt(
        ["build", "--quiet", "--select", "source:ml+"],
        url,
        target_path=target / "target",
        log_path=target / "logs",
        check=False,
        timeout=600,
    )


def _ensure_tenants(url: str, password: str) -> list[SignedIn]:
    """One manager per tenant gets `password` (creating two tenants when nothing is seeded)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("select count(*) from crm.tenants").fetchone()[0] == 0:
            for slug, name in (("alpha", "Alpha Test"), ("beta", "Beta Test")):
                tid = conn.execute(
                    "insert into crm.tenants (slug, name) values (%s, %s) returning id", (slug, name)
                ).fetchone()[0]
                user = staff.seal_row(
                    tid, {"email": f"manager@{slug}.example", "full_name": f"{name} Manager"}, keyring(url)
                )
                conn.execute(
                    "insert into crm.users (tenant_id, email, full_name, email_bidx, role)"
                    " values (%s, %s, %s, %s, 'manager')",
                    (tid, user["email"], user["full_name"], user["email_bidx"]),
                )
        rows = conn.execute(
            """select distinct on (t.id) u.id, t.id, t.slug, t.name, u.email, u.full_name, u.role::text
               from crm.users u join crm.tenants t on t.id = u.tenant_id
               where u.role in ('manager', 'admin') order by t.id, (u.role = 'manager') desc, u.created_at, u.id"""
        ).fetchall()
        h = hash_password(password)
        out = []
        for uid, tid, slug, name, email, full_name, role in rows:
            conn.execute("update crm.users set password_hash = %s where id = %s", (h, uid))
            opened = staff.open_row(tid, {"email": email, "full_name": full_name}, keyring(url))
            out.append(
                SignedIn(
                    str(uid),
                    str(tid),
                    slug,
                    name,
                    opened["email"],
                    opened["full_name"] or opened["email"],
                    role,
                )
            )
    return out


@pytest.fixture(scope="package")
def world(create_database: Callable[[str], str]) -> Iterator[World]:
    """A database of the dashboards' own: the seeded world alone, so figures compare exactly
    and other areas' test rows (API writes) cannot change them. DATABASE_URL points at it
    while tests/app runs, because the app reads its settings."""
    import os

    from crm import migrate
    from crm.settings import get_settings

    url = create_database("crm_app")
    migrate.upgrade(url)
    _seed(url)
    password = secrets.token_urlsafe(12)
    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        yield World(url=url, managers=_ensure_tenants(url, password), password=password)
    finally:
        if old is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = old
        get_settings.cache_clear()


@pytest.fixture
def run_page(world: World) -> Callable[..., AppTest]:
    """AppTest of `page` (a title of app.nav.PAGES) signed in as `who` (default: the first manager)."""

    def run(
        page: str, who: SignedIn | None = None, query: dict | None = None, timeout: float = 60
    ) -> AppTest:
        return open_page(page, who or world.managers[0], query, timeout)

    return run


DEAL_MESSAGES = (
    "We're ready to sign by end of Q3.",
    "The price is too high at $40 per seat.",
    "Let's schedule a call next week.",
)
"""What the messages naming a deal say (a buying signal, pricing, a timeline, a next step)."""


@pytest.fixture(scope="package")
def conversation_signals(world: World) -> World:
    """The world with its landed conversation messages analysed by the conversation job and
    analytics.fct_conversation_signals built over them (what Customer 360 and Deal show). The
    simulator's conversations name customers only, so a few messages naming the first tenant's
    open deal with a customer and the most stage changes land too, as the ticketing source sends them."""
    from orchestration.integrations_conversations import conversation_signals_job
    from orchestration.resources import PostgresResource
    from warehouse.dbt import run_dbt

    with psycopg.connect(world.url, autocommit=True) as conn:
        deal = conn.execute(
            """select d.deal_id, d.created_at from analytics.fct_deals d
               where d.tenant_id = %s and d.is_open and d.customer_id is not null
               order by d.stages_entered desc, d.deal_value desc, d.deal_id limit 1""",
            (world.managers[0].tenant_id,),
        ).fetchone()
        assert deal is not None, "the world has no open deal"
        conversation = uuid.uuid4()
        for n, said in enumerate(DEAL_MESSAGES, start=1):
            payload = {"conversation_id": str(conversation), "deal_id": str(deal[0]), "channel": "EMAIL"}
            conn.execute(
                "insert into raw.conversations (event_id, tenant_id, event_type, schema_version, occurred_at,"
                " source, payload) values (%s, %s, 'conversation.message', 1, %s, 'ticketing', %s)",
                (
                    uuid.uuid4(),
                    world.managers[0].tenant_id,
                    deal[1] + timedelta(days=n),
                    Jsonb(payload | {"direction": "inbound", "text": said}),
                ),
            )
    assert conversation_signals_job.execute_in_process(
        resources={"postgres": PostgresResource(database_url=world.url)}
    ).success
    target = Path(tempfile.mkdtemp(prefix="crm-app-conv-"))
    done = run_dbt(
        ["build", "--quiet", "--select", "fct_conversation_signals"],
        world.url,
        target_path=target / "target",
        log_path=target / "logs",
        check=False,
        capture=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return world
