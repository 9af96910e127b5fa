"""People's e-mails, names and phones are sealed at rest: a `pg_dump` of a seeded world (its
leads and customers, their activities, tickets and conversations landed in `raw.*`, and its
staff) shows none of them, in any case, while every one of them opens from its row and is found
by its index (a staff member's e-mail by the deployment's sign-in index). Nor does it show what
was written in the landed tickets, messages and activities, which the seed stores sealed as the
lander does and which open to their text."""

from __future__ import annotations

import itertools
import re
import subprocess
from datetime import date
from pathlib import Path
from uuid import UUID

import psycopg

from crm.events.topics import Topic
from crm.keys import event_text, personal, staff
from crm.keys.keyring import keyring
from stack.postgres import EmbeddedPostgres

PEOPLE = """select 'leads', tenant_id, email, first_name, last_name, phone from crm.leads
            union all select 'customers', tenant_id, email, first_name, last_name, phone from crm.customers"""
STAFF = "select id, tenant_id, email, full_name, email_bidx from crm.users"


def test_a_dump_of_a_seeded_world_shows_no_ones_email_name_or_phone(migrated_db: str, crm_home: Path) -> None:
    from sim import seed_world

    seed_world(
        scale="S", seed=7, as_of=date(2026, 11, 1), database_url=migrated_db, sink="raw", progress=False
    )
    ring = keyring(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(PEOPLE).fetchall()
        people = [
            personal.open_row(t, table, dict(zip(personal.FIELDS, values, strict=True)), ring)
            for table, t, *values in rows
        ]
        assert len(people) > 1000 and all(personal.is_sealed(r[2]) for r in rows)
        some = next(p | {"tenant": t} for p, (_, t, *_) in zip(people, rows, strict=True) if p["phone"])
        found = personal.email_params(UUID(str(some["tenant"])), some["email"].upper(), ring)
        assert conn.execute(
            f"select count(*) from crm.leads where tenant_id = %(t)s and {personal.email_match()}",
            found | {"t": some["tenant"]},
        ).fetchone() >= (1,)
        users = conn.execute(STAFF).fetchall()
        crew = [staff.open_row(t, {"email": e, "full_name": n}, ring) for _, t, e, n, _ in users]
        assert len(users) > 10 and all(
            personal.is_sealed(e) and personal.is_sealed(n) and b for _, _, e, n, b in users
        )
        one, sealed_one = crew[-1], users[-1]
        assert (
            conn.execute(  # found across tenants by the sign-in index, in another case
                f"select id, tenant_id from crm.users u where {staff.email_match('u')}",
                staff.email_params(f" {one['email'].upper()}", ring),
            ).fetchall()
            == [tuple(sealed_one[:2])]
        )

        written: set[str] = set()
        for topic in event_text.FIELDS:
            table = topic.replace("-", "_")
            for t, payload in conn.execute(f"select tenant_id, payload from raw.{table}"):
                opened = event_text.open_payload(t, topic, payload, ring)
                for f in event_text.FIELDS[topic]:
                    if payload.get(f):
                        assert payload[f].startswith(("d2:dk", "v2:dk")), (topic, f, payload[f])
                        if f != "subject" or topic in (Topic.TICKETS, Topic.CONVERSATIONS):
                            written.add(opened[f].lower())
    # whole sentences, not one common word; an e-mail activity's subject line is its campaign's,
    # kept readable in the activity row's metadata as its campaign id is
    phrases = {w for w in written if len(w.split()) >= 3}
    assert len(phrases) > 20, len(phrases)

    pg_dump = EmbeddedPostgres(crm_home).bin_dir() / "pg_dump"
    dump = subprocess.run(
        [str(pg_dump), "--no-owner", "--dbname", migrated_db],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.lower()
    assert len(dump) > 1_000_000  # the world is in it
    emails = {p["email"].lower() for p in (*people, *crew) if p["email"]}
    names = {
        f"{p['first_name']} {p['last_name']}".lower() for p in people if p["first_name"] and p["last_name"]
    } | {c["full_name"].lower() for c in crew}
    phones = {p["phone"] for p in people if p["phone"]}
    assert len(emails) > 1000 and len(names) > 500 and len(phones) > 500
    # one pass over the dump: its e-mail- and phone-like tokens, and its pairs of adjacent words
    tokens = set(re.findall(r"[\w.+@-]+", dump))
    words = re.findall(r"\w+", dump)
    pairs = {f"{a} {b}" for a, b in itertools.pairwise(words)}
    assert "tenant_id" in tokens and any(
        p.startswith("create table") for p in pairs
    )  # the scan sees the dump
    shown = [v for v in (*emails, *phones) if v in tokens] + sorted(names & pairs)
    assert shown == [], shown[:10]
    assert "copy raw.tickets" in dump and "d2:dk1:" in dump
    assert [p for p in phrases if p in dump] == []  # notes, tickets, messages: in no table
