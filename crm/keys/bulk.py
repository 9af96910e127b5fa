"""Keys for a bulk load that writes its tenants and their sealed rows in one transaction.

The keyring makes a tenant's first key in a transaction of its own, which needs the tenant
committed; a load that replaces whole tenants (the synthetic world's seed) commits nothing
until the end. It stores the keys itself instead, in its own transaction, and keeps a tenant's
existing keys across the replacement: a process that cached them (a running API) still opens
what the load writes.
"""

from __future__ import annotations

import os
from typing import Any
from uuid import UUID

import psycopg

from crm.keys.keyring import DATA, INDEX, INSERT, Keyring, context

SavedKeys = list[tuple[Any, ...]]


def saved_keys(conn: psycopg.Connection[Any], tenant_ids: list[str]) -> SavedKeys:
    """The tenants' stored keys (read before the load deletes the tenants and, with them, these)."""
    return conn.execute(
        "SELECT tenant_id, kind, version, wrapped_key, master_key_id FROM crm.tenant_data_keys"
        " WHERE tenant_id = ANY(%s::uuid[])",
        (tenant_ids,),
    ).fetchall()


def load_keys(conn: psycopg.Connection[Any], tenant_ids: list[str], saved: SavedKeys, url: str) -> Keyring:
    """Store the saved keys again and a first data and index key for each tenant without one,
    in the load's transaction (after its tenants); a keyring of `url` holding them all."""
    ring = Keyring(url=url)
    current: dict[tuple[str, str], tuple[int, bytes]] = {}
    for tenant, kind, version, wrapped, master_id in saved:
        conn.execute(INSERT, (tenant, kind, version, wrapped, master_id))
        key = ring.master.unwrap(bytes(wrapped), master_id, context(tenant, kind, version))
        if version >= current.get((str(tenant), kind), (0, b""))[0]:
            current[(str(tenant), kind)] = (version, key)
    for tenant in tenant_ids:
        for kind in (DATA, INDEX):
            if (str(tenant), kind) not in current:
                key = os.urandom(32)
                wrapped, master_id = ring.master.wrap(key, context(tenant, kind, 1))
                conn.execute(INSERT, (tenant, kind, 1, wrapped, master_id))
                current[(str(tenant), kind)] = (1, key)
    for (tenant, kind), (version, key) in current.items():
        ring.prime(UUID(tenant), kind, version, key)
    return ring
