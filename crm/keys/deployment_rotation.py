"""`crm keys rotate` for the deployment's own keys (`crm.deployment_keys`), as `crm.keys.rotate`
does for the tenants': a new `data` version with every dead letter's and parked event's bytes
re-sealed under it online (`crm.keys.undelivered`), and a master rotation re-wrapping every
deployment key (the sign-in index keys included: an index key is never replaced by a rotation,
its values would all change).

The sweep takes a batch of rows at a time (`FOR UPDATE SKIP LOCKED`), writes a row back only if
it still holds what was read, and goes on until none is left on an older version and at least
the keyring's TTL has passed (the lander seals under the version it last saw for that long).
Bytes that do not open are left as they are and reported by row. The deployment has no tenant
to file audit rows under: what was done is the command's report.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg

from crm.keys import sealed, undelivered
from crm.keys.keyring import DATA, Keyring, add_version, context, ttl_s
from crm.secrets import KeyUnavailable, Undecryptable

TABLES = ("raw.dead_letters", "raw.parked_events")
"""Where the deployment's data key seals values, each row's bytes in `raw_bytes` beside its
key id in `raw_key_id`."""
BATCH = 500


@dataclass
class DeploymentRotation:
    from_version: int
    to_version: int
    reencrypted: Counter[str] = field(default_factory=Counter)
    remaining: int = 0
    unreadable: dict[str, list[int]] = field(default_factory=dict)
    seconds: float = 0.0
    started: float = 0.0  # monotonic time of the new version


def new_version(conn: psycopg.Connection[Any], ring: Keyring) -> tuple[int, int]:
    """(previous, new) version of the deployment's data key, committed; older ones retired."""
    while True:
        row = conn.execute(
            "SELECT coalesce(max(version), 0) FROM crm.deployment_keys WHERE kind = %s", (DATA,)
        ).fetchone()
        previous = int(row[0]) if row else 0
        if add_version(conn, ring.master, None, DATA, previous + 1):
            break
        conn.rollback()  # a first key made concurrently by the lander took it: go one higher
    conn.execute(
        "UPDATE crm.deployment_keys SET retired_at = now() WHERE kind = %s AND version <= %s AND retired_at IS NULL",
        (DATA, previous),
    )
    conn.commit()
    ring.expire(None)
    return previous, previous + 1


def _pending(table: str, count: bool = False) -> str:
    where = "raw_key_id IS DISTINCT FROM %(kid)s"
    if count:
        return f"SELECT count(*) FROM {table} WHERE {where}"
    return (
        f"SELECT id, topic, raw_bytes, raw_key_id FROM {table} WHERE {where} AND id > %(after)s"
        " ORDER BY id LIMIT %(n)s FOR UPDATE SKIP LOCKED"
    )


def remaining(conn: psycopg.Connection[Any], version: int) -> int:
    """Rows whose bytes are not under data key `version`."""
    total = 0
    for table in TABLES:
        row = conn.execute(_pending(table, count=True), {"kid": sealed.key_id(version)}).fetchone()
        total += int(row[0]) if row else 0
    return total


def values_by_key(conn: psycopg.Connection[Any]) -> Counter[str]:
    """{key id, or `plaintext` for bytes stored before sealing: rows}, both tables."""
    out: Counter[str] = Counter()
    for table in TABLES:
        for kid, n in conn.execute(
            f"SELECT coalesce(raw_key_id, 'plaintext'), count(*) FROM {table} GROUP BY 1"
        ):
            out[kid] += n
    return out


def _sweep(
    conn: psycopg.Connection[Any], ring: Keyring, table: str, r: DeploymentRotation, batch: int
) -> None:
    key = ring.key(None, r.to_version, DATA)
    after = 0
    while True:
        rows = conn.execute(
            _pending(table), {"kid": sealed.key_id(r.to_version), "after": after, "n": batch}
        ).fetchall()
        if not rows:
            conn.commit()
            return
        updates = []
        for rid, topic, stored, kid in rows:
            try:
                plain = undelivered.unseal(bytes(stored), kid, topic, ring)
            except (Undecryptable, KeyUnavailable):
                seen = r.unreadable.setdefault(table, [])
                if rid not in seen:
                    seen.append(rid)
                continue
            updates.append((*undelivered.seal(plain, topic, (r.to_version, key)), rid, kid))
        with conn.cursor() as cur:
            cur.executemany(
                f"UPDATE {table} SET raw_bytes = %s, raw_key_id = %s WHERE id = %s AND raw_key_id IS NOT DISTINCT FROM %s",
                updates,
            )
            r.reencrypted[table] += max(cur.rowcount, 0)
        conn.commit()
        after = rows[-1][0]


def begin(ring: Keyring, url: str | None = None) -> DeploymentRotation:
    """The new version, from now on the one the lander seals under once its cache expires
    (`CRM_DATA_KEY_TTL_S`): begun before the tenants' rotations, the sweep that `finish`es it
    has waited that long already."""
    from crm.db import connect

    with connect(url) as conn:
        return DeploymentRotation(*new_version(conn, ring), started=time.monotonic())


def finish(
    r: DeploymentRotation,
    ring: Keyring,
    url: str | None = None,
    *,
    batch: int = BATCH,
    settle_s: float | None = None,
) -> DeploymentRotation:
    """Every undelivered event's bytes sealed under `r`'s version (bytes stored before they
    were sealed included), sweeping until `settle_s` (the keyring's TTL) after `begin`."""
    from crm.db import connect

    settle = ttl_s() if settle_s is None else settle_s
    with connect(url) as conn:
        while True:
            for table in TABLES:
                _sweep(conn, ring, table, r, batch)
            r.remaining = remaining(conn, r.to_version)
            conn.commit()
            waited = time.monotonic() - r.started
            left = r.remaining - sum(len(v) for v in r.unreadable.values())
            if waited >= settle and (left == 0 or waited >= 2 * settle + 5):
                break
            time.sleep(min(0.2, max(settle - waited, 0.01)))
    r.seconds = round(time.monotonic() - r.started, 3)
    return r


def rotate_data_key(
    ring: Keyring, url: str | None = None, *, batch: int = BATCH, settle_s: float | None = None
) -> DeploymentRotation:
    """A new deployment data key version and every undelivered event re-sealed under it."""
    return finish(begin(ring, url), ring, url, batch=batch, settle_s=settle_s)


def rewrap(ring: Keyring, url: str | None = None) -> int:
    """Re-wrap every deployment key not under the master key in use; how many were."""
    from crm.db import connect

    master, done = ring.master, 0
    target = master.current_id()
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT kind, version, wrapped_key, master_key_id FROM crm.deployment_keys"
            " WHERE master_key_id <> %s FOR UPDATE",
            (target,),
        ).fetchall()
        for kind, version, wrapped, old in rows:
            ctx = context(None, kind, version)
            new, _ = master.wrap(master.unwrap(bytes(wrapped), old, ctx), ctx)
            conn.execute(
                "UPDATE crm.deployment_keys SET wrapped_key = %s, master_key_id = %s WHERE kind = %s AND version = %s",
                (new, target, kind, version),
            )
            done += 1
        conn.commit()
    return done
