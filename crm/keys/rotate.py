"""`crm keys rotate`: a new data key version per tenant, every older value re-encrypted online.

Rotation never holds more than a batch of rows: each batch locks its rows (`FOR UPDATE SKIP
LOCKED`, so a row a writer holds is taken on a later pass), decrypts each with the key it names,
encrypts it under the new version and writes it back only if it is still the value it read (the
version check is redundant under the lock, and keeps a wrong plan from ever writing over a
newer value), then commits. Writers keep working: a value written meanwhile is either already
under the new version or is picked up by a later pass, and every old version stays stored, so
nothing that was written can become undecryptable. A value that does not open (damaged, or
sealed under a key no longer held) is left as it is, counted in `unreadable` with its row key
in the report and the audit row, and the sweep goes on past it. Processes learn of a new version within
`CRM_DATA_KEY_TTL_S`, so the sweep goes on at least that long (`settle_s`) and until no value is
left on an older version. A master rotation re-wraps each stored key under the master key now
in use: the keys themselves, and so every value, are unchanged.

Audit rows (`crm.audit_log`, actor `system`) record each new version, each rotation's counts and
each re-wrap; never a key, wrapped or not.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from crm.audit import record_system
from crm.keys import sealed
from crm.keys.columns import COLUMNS, SealedColumn
from crm.keys.keyring import DATA, Keyring, add_version, context, ttl_s
from crm.secrets import KeyProvider, KeyUnavailable, Undecryptable

BATCH = 500
AUDITED = "tenant_data_keys"


@dataclass
class Rotation:
    tenant_id: UUID
    slug: str
    from_version: int
    to_version: int
    reencrypted: Counter[str] = field(default_factory=Counter)
    remaining: int = 0
    unreadable: dict[str, list[str]] = field(default_factory=dict)
    """Per column, the row keys of values that did not open (left as they are)."""
    seconds: float = 0.0


def _connect(url: str | None) -> psycopg.Connection[Any]:
    from crm.db import connect

    return connect(url)


def _pending(col: SealedColumn, count: bool = False, after: bool = False) -> str:
    """The column's values not under the version; `after`: only rows past a row key (a
    sweep's position, so a value left behind is not read again and again)."""
    keys = ", ".join(col.row_key)
    if col.key_id_column:
        where = f"tenant_id = %(t)s AND {col.key_id_column} <> %(kid)s"
        cols = f"{keys}, {col.column}, {col.key_id_column}"
    else:
        where = f"tenant_id = %(t)s AND {col.column} IS NOT NULL AND {col.column} NOT LIKE %(prefix)s"
        if col.not_personal is not None:
            where += f" AND {col.column} NOT LIKE '{col.not_personal.replace('%', '%%')}'"
        cols = f"{keys}, {col.column}"
    if count:
        return f"SELECT count(*) FROM crm.{col.table} WHERE {where}"
    if after:
        where += f" AND ({keys}) > ({', '.join(f'%(k{i})s' for i in range(len(col.row_key)))})"
    return (
        f"SELECT {cols} FROM crm.{col.table} WHERE {where} ORDER BY {keys} LIMIT %(n)s FOR UPDATE SKIP LOCKED"
    )


def _params(tenant_id: UUID, version: int, n: int = BATCH) -> dict[str, Any]:
    kid = sealed.key_id(version)
    return {"t": tenant_id, "kid": kid, "prefix": f"v2:{kid}:%", "n": n}


def _batch(
    conn: psycopg.Connection[Any],
    ring: Keyring,
    col: SealedColumn,
    legacy: KeyProvider,
    r: Rotation,
    n: int,
    after: list[Any] | None,
) -> tuple[int, list[Any] | None]:
    """Re-encrypt up to `n` of the column's values not yet under the rotation's version, past
    the row key `after`; (rows it moved, the last row key read: None when none was left)."""
    params = _params(r.tenant_id, r.to_version, n) | {f"k{i}": k for i, k in enumerate(after or [])}
    rows = conn.execute(_pending(col, after=after is not None), params).fetchall()
    if not rows:
        conn.commit()
        return 0, None
    match = " AND ".join(f"{k} = %s" for k in col.row_key)
    tenant_id, version = r.tenant_id, r.to_version
    aad, updates = col.aad(tenant_id), []
    for row in rows:
        ident = list(row[: len(col.row_key)])
        try:
            if col.key_id_column:
                blob, kid = bytes(row[-2]), row[-1]
                plain = sealed.unseal(tenant_id, blob, kid, aad, legacy, ring)
                updates.append([*sealed.seal(tenant_id, plain, aad, ring, version), *ident, kid, blob])
            else:
                old = row[-1]
                if col.plaintext and not old.startswith(("v1:", "v2:")):
                    plain = old.encode()  # written before the column was encrypted
                else:
                    plain = sealed.unseal_text(tenant_id, old, aad, legacy, ring)
                beside = col.index_values(tenant_id, plain.decode(), ring) if col.indexes else {}
                new = sealed.seal_text(tenant_id, plain, aad, ring, version)
                updates.append([new, *(beside[c] for c in col.indexes), *ident, old])
        except (Undecryptable, KeyUnavailable):
            seen = r.unreadable.setdefault(col.name, [])
            key = "/".join(str(i) for i in ident)
            if key not in seen:
                seen.append(key)
    if col.key_id_column:
        sql = (
            f"UPDATE crm.{col.table} SET {col.column} = %s, {col.key_id_column} = %s"
            f" WHERE {match} AND {col.key_id_column} = %s AND {col.column} = %s"
        )
    else:
        sets = "".join(f", {c} = %s" for c in col.indexes)
        sql = f"UPDATE crm.{col.table} SET {col.column} = %s{sets} WHERE {match} AND {col.column} = %s"
    moved = 0
    if updates:
        with conn.cursor() as cur:
            cur.executemany(sql, updates)  # pipelined: one round trip per batch, not per row
            moved = cur.rowcount
    conn.commit()
    return moved, list(rows[-1][: len(col.row_key)])


def remaining(conn: psycopg.Connection[Any], tenant_id: UUID, version: int) -> int:
    """Values of the tenant not yet under data key `version`."""
    total = 0
    for col in COLUMNS:
        row = conn.execute(_pending(col, count=True), _params(tenant_id, version)).fetchone()
        total += int(row[0]) if row else 0
    return total


def new_version(conn: psycopg.Connection[Any], ring: Keyring, tenant_id: UUID) -> tuple[int, int]:
    """(previous, new) data key version, committed with its audit row; older ones retired."""
    while True:
        row = conn.execute(
            "SELECT coalesce(max(version), 0) FROM crm.tenant_data_keys WHERE tenant_id = %s AND kind = %s",
            (tenant_id, DATA),
        ).fetchone()
        previous = int(row[0]) if row else 0
        if add_version(conn, ring.master, tenant_id, DATA, previous + 1):
            break
        conn.rollback()  # a first key made concurrently took that version: go one higher
    conn.execute(
        "UPDATE crm.tenant_data_keys SET retired_at = now()"
        " WHERE tenant_id = %s AND kind = %s AND version <= %s AND retired_at IS NULL",
        (tenant_id, DATA, previous),
    )
    after = {"kind": DATA, "version": previous + 1, "master_key_id": ring.master.current_id()}
    record_system(conn, tenant_id, "data_key_created", AUDITED, after)
    conn.commit()
    ring.expire(tenant_id)
    return previous, previous + 1


def rotate_data_keys(
    tenants: list[tuple[UUID, str]],
    ring: Keyring,
    url: str | None = None,
    *,
    batch: int = BATCH,
    settle_s: float | None = None,
) -> list[Rotation]:
    """A new version for each tenant, then sweep until none of their values is on an older one
    and at least `settle_s` (default: the keyring's TTL) has passed; a value still behind after
    twice that is reported in `remaining` (a later rotation or `crm keys status` shows it)."""
    settle = ttl_s() if settle_s is None else settle_s
    started = time.monotonic()
    legacy = {c.name: c.legacy_keys() for c in COLUMNS}
    with _connect(url) as conn:
        out = [Rotation(t, slug, *new_version(conn, ring, t)) for t, slug in tenants]
        while True:
            for r in out:
                for col in COLUMNS:
                    position: list[Any] | None = None
                    while True:
                        moved, position = _batch(conn, ring, col, legacy[col.name], r, batch, position)
                        if moved:
                            r.reencrypted[col.name] += moved
                        if position is None:
                            break
                r.remaining = remaining(conn, r.tenant_id, r.to_version)
                conn.commit()
            waited = time.monotonic() - started
            left = sum(r.remaining - sum(len(k) for k in r.unreadable.values()) for r in out)
            if waited >= settle and (left == 0 or waited >= 2 * settle + 5):
                break
            time.sleep(min(0.2, max(settle - waited, 0.01)))
        seconds = round(time.monotonic() - started, 3)
        for r in out:
            r.seconds = seconds
            after = {
                "from_version": r.from_version,
                "to_version": r.to_version,
                "reencrypted": dict(r.reencrypted),
                "remaining": r.remaining,
                "unreadable": r.unreadable,
                "seconds": seconds,
            }
            record_system(conn, r.tenant_id, "data_key_rotated", AUDITED, after)
        conn.commit()
    return out


def rewrap(ring: Keyring, url: str | None = None, *, batch: int = BATCH) -> dict[UUID, int]:
    """Re-wrap every stored key not under the master key in use; {tenant: keys re-wrapped}."""
    master = ring.master
    target = master.current_id()
    done: Counter[UUID] = Counter()
    sources: dict[UUID, set[str]] = {}
    with _connect(url) as conn:
        while True:
            rows = conn.execute(
                "SELECT tenant_id, kind, version, wrapped_key, master_key_id FROM crm.tenant_data_keys"
                " WHERE master_key_id <> %s ORDER BY tenant_id, kind, version LIMIT %s FOR UPDATE SKIP LOCKED",
                (target, batch),
            ).fetchall()
            if not rows:
                break
            for tenant_id, kind, version, wrapped, old in rows:
                ctx = context(tenant_id, kind, version)
                new, _ = master.wrap(master.unwrap(bytes(wrapped), old, ctx), ctx)
                conn.execute(
                    "UPDATE crm.tenant_data_keys SET wrapped_key = %s, master_key_id = %s"
                    " WHERE tenant_id = %s AND kind = %s AND version = %s AND master_key_id = %s",
                    (new, target, tenant_id, kind, version, old),
                )
                done[tenant_id] += 1
                sources.setdefault(tenant_id, set()).add(old)
            conn.commit()
        for tenant_id, n in done.items():
            after = {
                "from_master_key_ids": sorted(sources[tenant_id]),
                "to_master_key_id": target,
                "rewrapped": n,
            }
            record_system(conn, tenant_id, "master_key_rewrapped", AUDITED, after)
        conn.commit()
    return dict(done)
