"""`crm keys rotate` on a real Postgres: online, nothing lost, nothing left behind.

A writer keeps replacing and adding values (through the process's own keyring, which learns of
the new version only after its TTL) while the rotation sweeps; afterwards every value opens to
what was written last and none is left on the old version. A master rotation re-wraps every key,
after which the old master key can go. The audit trail has the counts and no key material."""

from __future__ import annotations

import base64
import os
import random
import threading
import time
import uuid

import psycopg
import pytest

from crm.keys import keyring as kr
from crm.keys import rotate, sealed
from crm.keys.master import EnvMasterKeyProvider
from crm.keys.status import status, values_by_key
from crm.secrets import KeyUnavailable
from integrations.external_sync import secrets as sync_secrets
from integrations.webhooks import crypto

PURPOSE = "webhook-subscription"
# Code under test reads its database from the settings (the process keyring, the CLI).
pytestmark = pytest.mark.usefixtures("pg_env")
TTL = 0.5


def _tenant(url: str) -> tuple[uuid.UUID, str]:
    tid = uuid.uuid4()
    slug = f"rot-{tid.hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.tenants (id, slug, name) VALUES (%s, %s, 'r')", (tid, slug))
    return tid, slug


def _add(conn: psycopg.Connection, tenant: uuid.UUID, plain: str) -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO crm.webhook_subscriptions (tenant_id, url, event_types, secret_enc)"
        " VALUES (%s, 'https://example.com/h', ARRAY['*'], %s) RETURNING id",
        (tenant, crypto.encrypt(plain, tenant, PURPOSE)),
    ).fetchone()
    return row[0]


def _opened(url: str, tenant: uuid.UUID) -> dict[uuid.UUID, str]:
    kr.keyring().forget()
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id, secret_enc FROM crm.webhook_subscriptions WHERE tenant_id = %s", (tenant,)
        ).fetchall()
    return {i: crypto.decrypt(v, tenant, PURPOSE) for i, v in rows}


@pytest.fixture
def short_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kr.TTL_SETTING, str(TTL))


def test_rotation_under_concurrent_writes_loses_nothing(pg_url: str, short_ttl: None) -> None:
    tenant, slug = _tenant(pg_url)
    last: dict[uuid.UUID, str] = {}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for i in range(300):
            last[_add(conn, tenant, f"v0-{i}")] = f"v0-{i}"
        cid = conn.execute(
            "INSERT INTO crm.sync_connections (tenant_id, provider, name, credentials_enc, key_id)"
            " VALUES (%s, 'hubspot', 'main', %s, %s) RETURNING id",
            (tenant, *sync_secrets.encrypt({"token": "t0"}, tenant)),
        ).fetchone()[0]
    stop, writes, errors = threading.Event(), [0], []

    def writer() -> None:
        rnd = random.Random(7)
        try:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                while not stop.is_set():
                    if rnd.random() < 0.2:
                        plain = f"new-{writes[0]}"
                        last[_add(conn, tenant, plain)] = plain
                    else:
                        sub = rnd.choice(list(last))
                        plain = f"upd-{writes[0]}"
                        conn.execute(
                            "UPDATE crm.webhook_subscriptions SET secret_enc = %s WHERE id = %s",
                            (crypto.encrypt(plain, tenant, PURPOSE), sub),
                        )
                        last[sub] = plain
                    writes[0] += 1
        except Exception as e:  # surfaced below
            errors.append(e)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.3)
    ring = kr.Keyring()  # the rotating process's own, as `crm keys rotate` runs elsewhere
    try:
        (result,) = rotate.rotate_data_keys([(tenant, slug)], ring, batch=50, settle_s=3 * TTL)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert writes[0] > 50, "the writer kept writing during the rotation"
    assert (result.from_version, result.to_version, result.remaining) == (1, 2, 0)
    assert result.reencrypted["webhook_subscriptions.secret_enc"] >= 300
    assert result.reencrypted["sync_connections.credentials_enc"] == 1
    assert _opened(pg_url, tenant) == last
    with psycopg.connect(pg_url) as conn:
        assert values_by_key(conn)[str(tenant)] == {"dk2": len(last) + 1}
        blob, kid = conn.execute(
            "SELECT credentials_enc, key_id FROM crm.sync_connections WHERE id = %s", (cid,)
        ).fetchone()
        assert kid == "dk2" and sync_secrets.decrypt(bytes(blob), kid, tenant) == {"token": "t0"}
        retired = conn.execute(
            "SELECT version, retired_at IS NOT NULL FROM crm.tenant_data_keys"
            " WHERE tenant_id = %s AND kind = 'data' ORDER BY version",
            (tenant,),
        ).fetchall()
    assert retired == [(1, True), (2, False)]


def test_a_value_that_does_not_open_is_left_and_reported_and_the_sweep_goes_on(
    pg_url: str, short_ttl: None
) -> None:
    tenant, slug = _tenant(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        good = {_add(conn, tenant, f"s{i}"): f"s{i}" for i in range(6)}
        bad = sorted(good)[2]  # in the middle of the sweep's order
        damaged = "v2:dk1:" + base64.b64encode(os.urandom(48)).decode()
        conn.execute("UPDATE crm.webhook_subscriptions SET secret_enc = %s WHERE id = %s", (damaged, bad))
        del good[bad]
    ring = kr.Keyring()
    (result,) = rotate.rotate_data_keys([(tenant, slug)], ring, batch=1, settle_s=TTL)
    column = "webhook_subscriptions.secret_enc"
    assert result.reencrypted[column] == 5 and result.unreadable == {column: [str(bad)]}
    assert result.remaining == 1  # the damaged value, still on the old version
    with psycopg.connect(pg_url) as conn:
        kept = conn.execute(
            "SELECT secret_enc FROM crm.webhook_subscriptions WHERE id = %s", (bad,)
        ).fetchone()
        after = conn.execute(
            "SELECT after FROM crm.audit_log WHERE tenant_id = %s AND action = 'data_key_rotated'", (tenant,)
        ).fetchone()[0]
    assert kept == (damaged,) and after["unreadable"] == {column: [str(bad)]}
    opened = {}
    kr.keyring().forget()
    for sub in good:
        with psycopg.connect(pg_url) as conn:
            value = conn.execute(
                "SELECT secret_enc FROM crm.webhook_subscriptions WHERE id = %s", (sub,)
            ).fetchone()[0]
        assert value.startswith("v2:dk2:")
        opened[sub] = crypto.decrypt(value, tenant, PURPOSE)
    assert opened == good


def test_rotation_moves_values_written_before_data_keys(
    pg_url: str, short_ttl: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, slug = _tenant(pg_url)
    legacy = crypto.key_provider()
    from crm.secrets import seal

    blob, key_id = seal(b"from before", f"{tenant}:webhook-inbound".encode(), legacy)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO crm.webhook_inbound_secrets (tenant_id, source, secret_enc) VALUES (%s, 'hubspot', %s)",
            (tenant, f"v2:{key_id}:{base64.b64encode(blob).decode()}"),
        )
        assert values_by_key(conn)[str(tenant)] == {key_id: 1}
    (result,) = rotate.rotate_data_keys([(tenant, slug)], kr.Keyring(), settle_s=0)
    assert (result.from_version, result.to_version) == (0, 1)  # its first data key
    assert result.reencrypted["webhook_inbound_secrets.secret_enc"] == 1 and result.remaining == 0
    with psycopg.connect(pg_url) as conn:
        stored = conn.execute(
            "SELECT secret_enc FROM crm.webhook_inbound_secrets WHERE tenant_id = %s", (tenant,)
        ).fetchone()[0]
    assert stored.startswith("v2:dk1:") and crypto.decrypt(stored, tenant, "webhook-inbound") == "from before"


def test_rotation_seals_people_written_before_encryption_and_indexes_them(
    pg_url: str, short_ttl: None
) -> None:
    from crm.keys import personal

    tenant, slug = _tenant(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        old = conn.execute(
            "INSERT INTO crm.leads (tenant_id, email, first_name, last_name, phone, source)"
            " VALUES (%s, 'Ann.Old@Acme.test', 'Ann', NULL, '+1 555 010 2030', 'sql') RETURNING id",
            (tenant,),
        ).fetchone()[0]
        new = personal.seal_row(
            tenant, "leads", {"email": "bo@acme.test", "first_name": "Bo", "source": "api"}
        )
        conn.execute(
            "INSERT INTO crm.leads (tenant_id, email, first_name, email_bidx, email_domain, source)"
            " VALUES (%(t)s, %(email)s, %(first_name)s, %(email_bidx)s, %(email_domain)s, 'api')",
            new | {"t": tenant},
        )
        conn.execute(  # the e-mails copied to a ticket's link and a campaign's sends, from before too
            "INSERT INTO crm.ticket_leads (tenant_id, ticket_id, lead_id, link, requester_email)"
            " VALUES (%s, gen_random_uuid(), %s, 'EMAIL', 'Ann.Old@Acme.test')",
            (tenant, old),
        )
        campaign = conn.execute(
            "INSERT INTO crm.marketing_campaigns (tenant_id, name, type) VALUES (%s, 'c', 'EMAIL') RETURNING id",
            (tenant,),
        ).fetchone()[0]
        for recipient in ("Ann.Old@Acme.test", "customer:00000000-0000-0000-0000-000000000001"):
            conn.execute(
                "INSERT INTO crm.campaign_deliveries (tenant_id, campaign_id, trigger_id, recipient, channel)"
                " VALUES (%s, %s, gen_random_uuid(), %s, 'email')",
                (tenant, campaign, recipient),
            )
        found = personal.email_params(tenant, "ann.old@acme.test")
        assert conn.execute(  # before the sweep, found by its text
            f"SELECT id FROM crm.leads WHERE tenant_id = %(t)s AND {personal.email_match()}",
            found | {"t": tenant},
        ).fetchall() == [(old,)]

    (result,) = rotate.rotate_data_keys([(tenant, slug)], kr.Keyring(), settle_s=0)
    assert result.reencrypted["leads.email"] == 2 and result.reencrypted["leads.first_name"] == 2
    assert result.reencrypted["leads.phone"] == 1 and result.remaining == 0
    assert result.reencrypted["ticket_leads.requester_email"] == 1
    assert result.reencrypted["campaign_deliveries.recipient"] == 1  # the placeholder names no one
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT email, first_name, last_name, phone, email_bidx, email_domain, phone_bidx"
            " FROM crm.leads WHERE id = %s",
            (old,),
        ).fetchone()
        assert all(v.startswith("v2:dk2:") for v in (row[0], row[1], row[3])) and row[2] is None
        assert row[4:6] == (found["email_bidx"][0], "acme.test")
        assert row[6] == personal.phone_lookup(tenant, "15550102030")[0]
        opened = personal.open_row(
            tenant,
            "leads",
            dict(zip(("email", "first_name", "phone"), (row[0], row[1], row[3]), strict=True)),
        )
        assert opened == {"email": "Ann.Old@Acme.test", "first_name": "Ann", "phone": "+1 555 010 2030"}
        copies = conn.execute(
            "SELECT requester_email FROM crm.ticket_leads WHERE tenant_id = %(t)s UNION ALL"
            " SELECT recipient FROM crm.campaign_deliveries WHERE tenant_id = %(t)s ORDER BY 1",
            {"t": tenant},
        ).fetchall()
        assert copies[0][0].startswith("customer:") and all(c.startswith("v2:dk2:") for (c,) in copies[1:])
        assert {personal.open_value(tenant, "email", c) for (c,) in copies[1:]} == {"Ann.Old@Acme.test"}
        assert conn.execute(  # after it, by its index alone
            f"SELECT id FROM crm.leads WHERE tenant_id = %(t)s AND {personal.email_match()}",
            found | {"t": tenant},
        ).fetchall() == [(old,)]


def test_a_master_rotation_rewraps_and_the_old_master_key_can_go(migrated_db: str) -> None:
    one, two = os.urandom(32), os.urandom(32)
    old = kr.Keyring(EnvMasterKeyProvider({"m-1": one}, "m-1"), migrated_db)
    tenants = [_tenant(migrated_db) for _ in range(3)]
    from crm.keys import blind_index

    stored = {t: sealed.seal_text(t, f"secret of {s}".encode(), b"aad", old) for t, s in tenants}
    index = {t: blind_index.blind_index(t, "email", "A@b.test", old) for t, _ in tenants}
    rotate.rotate_data_keys([tenants[0]], old, migrated_db, settle_s=0)  # a second version too
    both = kr.Keyring(EnvMasterKeyProvider({"m-1": one, "m-2": two}, "m-2"), migrated_db)
    done = rotate.rewrap(both, migrated_db, batch=2)
    assert sum(done.values()) == 3 * 2 + 1  # a data and an index key each, and the new version
    with psycopg.connect(migrated_db) as conn:
        assert conn.execute("SELECT DISTINCT master_key_id FROM crm.tenant_data_keys").fetchall() == [
            ("m-2",)
        ]
    new_only = kr.Keyring(EnvMasterKeyProvider({"m-2": two}, "m-2"), migrated_db)
    legacy = crypto.key_provider()
    for t, s in tenants:
        assert sealed.unseal_text(t, stored[t], b"aad", legacy, new_only) == f"secret of {s}".encode()
        assert blind_index.blind_index(t, "email", " a@B.test ", new_only) == index[t]
    with pytest.raises(KeyUnavailable, match="m-2"):
        kr.Keyring(EnvMasterKeyProvider({"m-1": one}, "m-1"), migrated_db).key(tenants[1][0], 1)
    assert rotate.rewrap(new_only, migrated_db) == {}  # nothing left to do


def test_the_audit_log_has_the_counts_and_no_key_material(migrated_db: str) -> None:
    m1 = os.urandom(32)
    ring = kr.Keyring(EnvMasterKeyProvider({"m-1": m1}, "m-1"), migrated_db)
    tenant, slug = _tenant(migrated_db)
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        for i in range(5):
            conn.execute(
                "INSERT INTO crm.webhook_inbound_secrets (tenant_id, source, secret_enc) VALUES (%s, %s, %s)",
                (
                    tenant,
                    f"src{i}",
                    sealed.seal_text(tenant, b"s", f"{tenant}:webhook-inbound".encode(), ring),
                ),
            )
    rotate.rotate_data_keys([(tenant, slug)], ring, migrated_db, settle_s=0)
    ring.master = EnvMasterKeyProvider({"m-1": m1, "m-2": os.urandom(32)}, "m-2")
    rotate.rewrap(ring, migrated_db)
    with psycopg.connect(migrated_db) as conn:
        audit = conn.execute(
            "SELECT action, after::text, after FROM crm.audit_log WHERE tenant_id = %s AND actor_type = 'system'"
            " AND entity = 'tenant_data_keys' ORDER BY id",
            (tenant,),
        ).fetchall()
        wrapped = [
            bytes(w) for (w,) in conn.execute("SELECT wrapped_key FROM crm.tenant_data_keys").fetchall()
        ]
    assert [a for a, _, _ in audit] == ["data_key_created", "data_key_rotated", "master_key_rewrapped"]
    rotated = audit[1][2]
    assert rotated["reencrypted"] == {"webhook_inbound_secrets.secret_enc": 5} and rotated["remaining"] == 0
    assert audit[2][2]["rewrapped"] == 2 and audit[2][2]["to_master_key_id"] == "m-2"
    material = [ring.key(tenant, v) for v in (1, 2)] + wrapped
    text = " ".join(t for _, t, _ in audit)
    for k in material:
        for form in (k.hex(), base64.b64encode(k).decode(), base64.urlsafe_b64encode(k).decode()):
            assert form not in text


def test_status_counts_values_per_version(migrated_db: str) -> None:
    ring = kr.Keyring(EnvMasterKeyProvider({"m-1": os.urandom(32)}, "m-1"), migrated_db)
    tenant, slug = _tenant(migrated_db)
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        for i in range(3):
            conn.execute(
                "INSERT INTO crm.webhook_inbound_secrets (tenant_id, source, secret_enc) VALUES (%s, %s, %s)",
                (tenant, f"s{i}", sealed.seal_text(tenant, b"s", f"{tenant}:webhook-inbound".encode(), ring)),
            )
        rows = [r for r in status(conn) if r["tenant"] == slug]
    assert [(r["kind"], r["version"], r["values"], r["master_key_id"]) for r in rows] == [
        ("data", 1, 3, "m-1")
    ]


def test_the_commands_rotate_one_tenant_and_show_it(pg_url: str) -> None:
    from typer.testing import CliRunner

    from stack.cli import app

    tenant, slug = _tenant(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        _add(conn, tenant, "via the command")
    runner = CliRunner()
    out = runner.invoke(app, ["keys", "rotate", "--tenant", slug, "--settle", "0"])
    assert out.exit_code == 0, out.output
    assert f"{slug}: data key v1 -> v2: 1 values re-encrypted, 0 left" in out.output
    out = runner.invoke(app, ["keys", "status"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    mine = [line for line in out.output.splitlines() if slug in line]
    assert len(mine) == 2 and mine[-1].rstrip(" │").endswith("1")  # v2 holds the value
    assert (
        _opened(pg_url, tenant) != {} and runner.invoke(app, ["keys", "rotate", "-t", "nope"]).exit_code != 0
    )


def test_rotation_seals_staff_written_before_encryption_and_fills_their_signin_index(
    pg_url: str, short_ttl: None
) -> None:
    from crm.keys import staff

    tenant, slug = _tenant(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        old = conn.execute(
            "INSERT INTO crm.users (tenant_id, email, full_name, role) VALUES (%s, 'Rita.Old@Acme.test',"
            " 'Rita Old', 'sales_rep') RETURNING id",
            (tenant,),
        ).fetchone()[0]
        found = staff.email_params("rita.old@acme.test")
        match = f"SELECT id FROM crm.users u WHERE {staff.email_match('u')}"
        assert conn.execute(match, found).fetchall() == [(old,)]  # before the sweep, by its text

    (result,) = rotate.rotate_data_keys([(tenant, slug)], kr.Keyring(), settle_s=0)
    assert result.reencrypted["users.email"] == 1 and result.reencrypted["users.full_name"] == 1
    assert result.remaining == 0
    with psycopg.connect(pg_url) as conn:
        email, name, bidx = conn.execute(
            "SELECT email, full_name, email_bidx FROM crm.users WHERE id = %s", (old,)
        ).fetchone()
        assert email.startswith(f"v2:dk{result.to_version}:") and name.startswith(
            f"v2:dk{result.to_version}:"
        )
        found = staff.email_params("RITA.OLD@acme.test")  # the sweep made the first sign-in index key
        assert found["email_bidx"] == [bidx] and bidx.startswith("bi1:")
        assert staff.open_row(tenant, {"email": email, "full_name": name}) == {
            "email": "Rita.Old@Acme.test",
            "full_name": "Rita Old",
        }
        assert conn.execute(match, found).fetchall() == [(old,)]  # after it, by its index alone
        assert {r["tenant"]: r["values"] for r in status(conn) if r["kind"] == "legacy"}.get(slug) is None
