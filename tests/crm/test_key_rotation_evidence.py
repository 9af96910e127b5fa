"""`crm keys rotate` and `status` on conversation signals' evidence: evidence stored before it was
sealed is counted as plaintext and sealed by the sweep, sealed evidence moves to the new version,
an erased one stays the marker, nothing is lost, and sealed evidence opens in its tenant only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from crm.keys import event_text, rotate
from crm.keys import keyring as kr
from crm.keys.status import values_by_key
from crm.secrets import Undecryptable

pytestmark = pytest.mark.usefixtures("pg_env")


def _signals(conn: psycopg.Connection, tenant: uuid.UUID, evidence: list[str]) -> dict[uuid.UUID, str]:
    """One signal of each evidence, stored as given: {signal id: evidence}."""
    out = {}
    for i, text in enumerate(evidence):
        sid = conn.execute(
            "INSERT INTO crm.conversation_signals (tenant_id, conversation_id, message_event_id, signal_type,"
            " value, confidence, evidence, span_start, span_end, detail, analyzer_version, occurred_at)"
            " VALUES (%s, %s, %s, 'objection', 'price', 0.9, %s, 0, %s, '{}', %s, %s) RETURNING id",
            (tenant, uuid.uuid4(), uuid.uuid4(), text, len(text), f"v{i}", datetime.now(UTC)),
        ).fetchone()[0]
        out[sid] = text
    return out


def test_rotation_seals_evidence_written_before_and_loses_nothing(pg_url: str) -> None:
    ring = kr.Keyring(url=pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tenant, slug = uuid.uuid4(), f"ev-{uuid.uuid4().hex[:8]}"
        conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'e')", (tenant, slug))
        legacy = _signals(conn, tenant, ["the price is too high", "[erased]"])
        seal = event_text.seal_evidence(tenant, ring)
        fresh = _signals(conn, tenant, [seal("ready to sign"), seal("Quentin's budget is approved")])
        counts = values_by_key(conn)[str(tenant)]
    assert counts == {"plaintext": 1, "dk1": 2}  # the erased one names no one

    (result,) = rotate.rotate_data_keys([(tenant, slug)], kr.Keyring(), settle_s=0)
    assert result.reencrypted["conversation_signals.evidence"] == 3 and result.remaining == 0
    with psycopg.connect(pg_url) as conn:
        stored = dict(
            conn.execute(
                "SELECT id, evidence FROM crm.conversation_signals WHERE tenant_id = %s", (tenant,)
            ).fetchall()
        )
        assert values_by_key(conn)[str(tenant)] == {"dk2": 3}
    assert {v for v in stored.values() if not v.startswith("v2:dk2:")} == {"[erased]"}
    want = legacy | {s: event_text.open_evidence(tenant, t, ring) for s, t in fresh.items()}
    assert {s: event_text.open_evidence(tenant, v, ring) for s, v in stored.items()} == want
    assert want[next(iter(fresh))] == "ready to sign"

    other = uuid.uuid4()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'o')", (other, f"o-{other.hex[:8]}")
        )
    event_text.seal_evidence(other, ring)  # the other tenant holds a data key of its own, dk1 too
    sealed = next(iter(fresh.values()))  # under dk1
    with pytest.raises(Undecryptable):
        event_text.open_evidence(other, sealed, ring)
    with pytest.raises(Undecryptable):  # nor as a message's text of the same tenant
        event_text.open_field(tenant, "conversations", "text", sealed, ring)
