"""The migrated schema behaves as the seed design says: enum values, defaults, the
updated_at trigger, unique and check constraints, tenant keys, landing idempotency.

Uses the SQLAlchemy tables of `crm.schema.tables` against one migrated scratch database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from crm.db import make_engine
from crm.enums import LeadStatus
from crm.schema import tables as t
from crm.schema.pipelines import DEFAULT_PIPELINE_STAGES, validate_stages
from crm.schema.testing import scratch_database


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with scratch_database("crm_schema_beh") as url:
        eng = make_engine(url)
        try:
            yield eng
        finally:
            eng.dispose()


def _tenant(engine: Engine) -> uuid.UUID:
    with engine.begin() as conn:
        slug = f"t-{uuid.uuid4().hex[:8]}"
        return conn.execute(
            insert(t.tenants).values(slug=slug, name=slug).returning(t.tenants.c.id)
        ).scalar_one()


def _row(engine: Engine, table, **values) -> uuid.UUID:
    with engine.begin() as conn:
        return conn.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()


@pytest.mark.parametrize("type_name", sorted(t.ENUM_TYPES))
def test_enum_types_hold_every_seed_value(engine: Engine, type_name: str) -> None:
    with engine.connect() as conn:
        labels = conn.execute(text(f"SELECT enum_range(NULL::crm.{type_name})::text[]")).scalar_one()
    assert labels == [m.value for m in t.ENUM_TYPES[type_name]]


def test_lead_defaults(engine: Engine) -> None:
    tenant = _tenant(engine)
    with engine.begin() as conn:
        row = (
            conn.execute(
                insert(t.leads)
                .values(tenant_id=tenant, email="a@example.com", source="website")
                .returning(t.leads)
            )
            .mappings()
            .one()
        )
    assert isinstance(row["id"], uuid.UUID)
    assert row["status"] == LeadStatus.NEW
    assert row["score"] == 0
    assert row["tags"] == []
    assert row["custom_fields"] == {}
    assert row["created_at"] is not None and row["updated_at"] is not None
    assert row["version"] == 1
    assert row["customer_id"] is None and row["converted_at"] is None


def test_other_defaults(engine: Engine) -> None:
    tenant = _tenant(engine)
    pipeline = _row(engine, t.sales_pipelines, tenant_id=tenant, name="Sales", stages=DEFAULT_PIPELINE_STAGES)
    with engine.begin() as conn:
        deal = (
            conn.execute(
                insert(t.deals)
                .values(
                    tenant_id=tenant,
                    name="d",
                    value=Decimal("10.50"),
                    stage="Prospecting",
                    pipeline_id=pipeline,
                )
                .returning(t.deals)
            )
            .mappings()
            .one()
        )
        campaign = (
            conn.execute(
                insert(t.marketing_campaigns)
                .values(tenant_id=tenant, name="c", type="EMAIL")
                .returning(t.marketing_campaigns)
            )
            .mappings()
            .one()
        )
        customer = (
            conn.execute(
                insert(t.customers).values(tenant_id=tenant, email="c@example.com").returning(t.customers)
            )
            .mappings()
            .one()
        )
        stages = conn.execute(
            select(t.sales_pipelines.c.stages).where(t.sales_pipelines.c.id == pipeline)
        ).scalar_one()
    assert (deal["currency"], deal["probability"], deal["value"]) == ("USD", 50, Decimal("10.50"))
    assert (campaign["status"], campaign["spent"], campaign["metrics"]) == ("DRAFT", Decimal("0.00"), {})
    assert (customer["lifecycle_stage"], customer["mrr"]) == ("PROSPECT", Decimal("0.00"))
    assert stages == DEFAULT_PIPELINE_STAGES
    assert validate_stages(DEFAULT_PIPELINE_STAGES) == []


def test_updated_at_trigger_advances_unless_set_explicitly(engine: Engine) -> None:
    tenant = _tenant(engine)
    lead = _row(engine, t.leads, tenant_id=tenant, email="b@example.com", source="web")
    with engine.connect() as conn:
        before = conn.execute(select(t.leads.c.updated_at).where(t.leads.c.id == lead)).scalar_one()
    with engine.begin() as conn:  # a later transaction: now() moved on
        conn.execute(update(t.leads).where(t.leads.c.id == lead).values(score=42))
    with engine.connect() as conn:
        after, created = conn.execute(
            select(t.leads.c.updated_at, t.leads.c.created_at).where(t.leads.c.id == lead)
        ).one()
    assert after > before and created == before

    with engine.begin() as conn:  # an explicit value (backfill, simulator) wins
        conn.execute(update(t.leads).where(t.leads.c.id == lead).values(score=43, updated_at=created))
        kept = conn.execute(select(t.leads.c.updated_at).where(t.leads.c.id == lead)).scalar_one()
    assert kept == created

    with engine.connect() as conn:
        triggered = set(
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
                    "WHERE g.tgname = 'set_updated_at'"
                )
            ).scalars()
        )
    assert triggered == {tb.name for tb in t.MUTABLE_TABLES}
    assert all("updated_at" in tb.c for tb in t.MUTABLE_TABLES)


def _duplicate(engine: Engine, table, values: dict) -> None:
    with engine.begin() as conn:
        conn.execute(insert(table).values(**values))
    with pytest.raises(IntegrityError, match=r"UniqueViolation"), engine.begin() as conn:
        conn.execute(insert(table).values(**values))


def test_unique_constraints(engine: Engine) -> None:
    tenant = _tenant(engine)
    _duplicate(engine, t.sales_pipelines, {"tenant_id": tenant, "name": "P", "stages": []})
    _duplicate(engine, t.products, {"tenant_id": tenant, "name": "x", "sku": "SKU-1", "price": 1})
    _duplicate(
        engine, t.users, {"tenant_id": tenant, "email": "v2:dk1:u", "email_bidx": "bi1:u", "role": "admin"}
    )
    # a customer's e-mail is sealed (a new text each time): unique by its blind index
    _duplicate(engine, t.customers, {"tenant_id": tenant, "email": "v2:dk1:a", "email_bidx": "bi1:same"})
    _duplicate(engine, t.customer_segments, {"tenant_id": tenant, "name": "S", "criteria": {}})

    customer = _row(engine, t.customers, tenant_id=tenant, email="m@example.com")
    segment = _row(engine, t.customer_segments, tenant_id=tenant, name="seg", criteria={})
    _duplicate(
        engine,
        t.customer_segment_memberships,
        {"tenant_id": tenant, "segment_id": segment, "customer_id": customer},
    )

    pipeline = _row(engine, t.sales_pipelines, tenant_id=tenant, name="Q", stages=[])
    deal = _row(engine, t.deals, tenant_id=tenant, name="d", value=1, stage="s", pipeline_id=pipeline)
    product = _row(engine, t.products, tenant_id=tenant, name="p", sku="SKU-2", price=5)
    _duplicate(
        engine,
        t.deal_products,
        {"tenant_id": tenant, "deal_id": deal, "product_id": product, "unit_price": 5, "total_price": 5},
    )
    # NULL skus do not collide (the seed's sku is optional)
    for _ in range(2):
        _row(engine, t.products, tenant_id=tenant, name="no sku", price=1)
    # the same pipeline name is fine in another tenant
    _row(engine, t.sales_pipelines, tenant_id=_tenant(engine), name="P", stages=[])


@pytest.mark.parametrize(
    ("table", "values"),
    [
        ("leads", {"email": "s@example.com", "source": "web", "score": 101}),
        ("sales_pipelines", {"name": "bad", "stages": {"not": "an array"}}),
    ],
)
def test_check_constraints(engine: Engine, table: str, values: dict) -> None:
    tenant = _tenant(engine)
    with pytest.raises(IntegrityError, match=r"CheckViolation"), engine.begin() as conn:
        conn.execute(insert(t.metadata.tables[f"crm.{table}"]).values(tenant_id=tenant, **values))


def test_every_crm_table_has_a_not_null_tenant_fk(engine: Engine) -> None:
    with engine.connect() as conn:
        tables = set(
            conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'crm'")
            ).scalars()
        )
        nullable = dict(
            conn.execute(
                text(
                    "SELECT table_name, is_nullable FROM information_schema.columns "
                    "WHERE table_schema = 'crm' AND column_name = 'tenant_id'"
                )
            ).all()
        )
        cascades = set(
            conn.execute(
                text(
                    "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
                    "AND confrelid = 'crm.tenants'::regclass AND confdeltype = 'c'"
                )
            ).scalars()
        )
    assert tables == {tb.name for tb in t.metadata.tables.values() if tb.schema == t.CRM}
    # the deployment's keys belong to no tenant: sign-in computes its index before a tenant is known
    expected = tables - {"tenants", "deployment_keys"}
    assert set(nullable) == expected
    assert set(nullable.values()) == {"NO"}
    # memberships carry tenant_id without a foreign key (migration 0901): deleting the tenant
    # removes them through its customers' and segments' delete triggers (test below)
    assert cascades == {f"crm.{name}" for name in expected - {"customer_segment_memberships"}}


def test_deleting_a_tenant_deletes_its_rows(engine: Engine) -> None:
    tenant, other = _tenant(engine), _tenant(engine)
    lead = _row(engine, t.leads, tenant_id=tenant, email="d@example.com", source="web")
    _row(engine, t.lead_activities, tenant_id=tenant, lead_id=lead, type="EMAIL_SENT", description="hi")
    for tid in (tenant, other):
        customer = _row(engine, t.customers, tenant_id=tid, email="m@example.com")
        segment = _row(engine, t.customer_segments, tenant_id=tid, name="seg", criteria={})
        with engine.begin() as conn:
            conn.execute(
                insert(t.customer_segment_memberships).values(
                    tenant_id=tid, segment_id=segment, customer_id=customer
                )
            )
    with engine.begin() as conn:
        conn.execute(t.tenants.delete().where(t.tenants.c.id == tenant))
        for table in (t.lead_activities, t.customer_segment_memberships):
            left = conn.execute(select(func.count()).select_from(table).where(table.c.tenant_id == tenant))
            assert left.scalar_one() == 0
        kept = conn.execute(
            select(func.count())
            .select_from(t.customer_segment_memberships)
            .where(t.customer_segment_memberships.c.tenant_id == other)
        )
        assert kept.scalar_one() == 1


def test_landing_is_idempotent_per_event_id(engine: Engine) -> None:
    assert set(t.LANDING_TABLES.values()) == {
        tb.name
        for tb in t.metadata.tables.values()
        if tb.schema == t.RAW and tb.name not in ("dead_letters", "parked_events")
    }
    event = {
        "event_id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "event_type": "EMAIL_SENT",
        "schema_version": 1,
        "occurred_at": func.now(),
        "source": "test",
        "kafka_partition": 0,
        "kafka_offset": 7,
        "payload": {"x": 1},
    }
    table = t.landing_table("lead-activities")
    assert table is t.raw_lead_activities
    with engine.begin() as conn:
        for _ in range(2):
            conn.execute(
                pg_insert(table)
                .values(**event)
                .on_conflict_do_nothing(index_elements=["event_id", "occurred_at"])
            )
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 1

    letter = {
        "topic": "tickets",
        "kafka_partition": 1,
        "kafka_offset": 9,
        "reason_code": "INVALID",
        "reason": "x",
        "raw_bytes": b"\xff",
    }
    dl = t.landing_table("dead-letters")
    with engine.begin() as conn:
        for _ in range(2):
            conn.execute(pg_insert(dl).values(**letter).on_conflict_do_nothing())
        assert conn.execute(select(func.count()).select_from(dl)).scalar_one() == 1


def test_outbox_unsent_index_is_partial(engine: Engine) -> None:
    with engine.connect() as conn:
        indexdef = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_outbox_unsent'")
        ).scalar_one()
    assert "WHERE ((sent_at IS NULL) AND (dead_at IS NULL))" in indexdef  # dead letters leave it too
