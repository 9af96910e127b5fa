"""`crm keys status`: each tenant's keys and how many values remain on each data key version."""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg

from crm.keys import deployment_rotation, sealed
from crm.keys.columns import COLUMNS, SealedColumn
from crm.keys.keyring import DEPLOYMENT


def _key_ids(col: SealedColumn) -> str:
    """(tenant, key id, values) of one column; `v1` for text written before key ids,
    `plaintext` for a person's value written before the column was encrypted."""
    older = "'v1'"
    if col.plaintext:
        older = f"CASE WHEN {col.column} LIKE 'v1:%' THEN 'v1' ELSE 'plaintext' END"
    kid = col.key_id_column or (
        f"CASE WHEN {col.column} LIKE 'v2:%' THEN split_part({col.column}, ':', 2) ELSE {older} END"
    )
    skip = f" AND {col.column} NOT LIKE '{col.not_personal}'" if col.not_personal is not None else ""
    return (
        f"SELECT tenant_id::text, {kid}, count(*) FROM crm.{col.table}"
        f" WHERE {col.column} IS NOT NULL{skip} GROUP BY 1, 2"
    )


def values_by_key(conn: psycopg.Connection[Any]) -> dict[str, Counter[str]]:
    """{tenant id: {`dk<version>` or a legacy key id: values encrypted under it}}."""
    out: dict[str, Counter[str]] = {}
    for col in COLUMNS:
        for tenant, kid, n in conn.execute(_key_ids(col)).fetchall():
            out.setdefault(tenant, Counter())[kid] += n
    return out


def status(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """One row per tenant key (kind, version, master key, times, values on it) and one per
    legacy key still holding values (kind `legacy`)."""
    counts = values_by_key(conn)
    rows = conn.execute(
        "SELECT t.id::text, t.slug, k.kind, k.version, k.master_key_id, k.created_at, k.retired_at"
        " FROM crm.tenant_data_keys k JOIN crm.tenants t ON t.id = k.tenant_id ORDER BY t.slug, k.kind, k.version"
    ).fetchall()
    out = [
        {
            "tenant": slug,
            "kind": kind,
            "version": version,
            "master_key_id": master,
            "created_at": created,
            "retired_at": retired,
            "values": counts.get(tid, Counter()).get(sealed.key_id(version), 0) if kind == "data" else None,
        }
        for tid, slug, kind, version, master, created, retired in rows
    ]
    out += _deployment(conn)
    slugs = dict(conn.execute("SELECT id::text, slug FROM crm.tenants").fetchall())
    for tid, by_key in counts.items():
        for kid, n in by_key.items():
            if sealed.version_of(kid) is None:
                out.append(
                    {
                        "tenant": slugs.get(tid, tid),
                        "kind": "legacy",
                        "version": None,
                        "master_key_id": kid,
                        "created_at": None,
                        "retired_at": None,
                        "values": n,
                    }
                )
    return out


def _deployment(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """The deployment's keys (tenant `deployment`), with the undelivered events' bytes on each
    data key version, and those stored before sealing as a `plaintext` row."""
    counts = deployment_rotation.values_by_key(conn)
    rows = conn.execute(
        "SELECT kind, version, master_key_id, created_at, retired_at FROM crm.deployment_keys ORDER BY kind, version"
    ).fetchall()
    out = [
        {
            "tenant": DEPLOYMENT,
            "kind": kind,
            "version": version,
            "master_key_id": master,
            "created_at": created,
            "retired_at": retired,
            "values": counts.get(sealed.key_id(version), 0) if kind == "data" else None,
        }
        for kind, version, master, created, retired in rows
    ]
    if counts.get("plaintext"):
        out.append(
            {
                "tenant": DEPLOYMENT,
                "kind": "legacy",
                "version": None,
                "master_key_id": "plaintext",
                "created_at": None,
                "retired_at": None,
                "values": counts["plaintext"],
            }
        )
    return out
