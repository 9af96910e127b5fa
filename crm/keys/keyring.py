"""Tenant keys: created, unwrapped and cached per process.

A tenant's key of a kind (`data` or `index`) and version is random, stored only wrapped by the
master key (`crm.tenant_data_keys`), unwrapped on first use and then kept in this process for
good (a version's key never changes; a master rotation re-wraps it, same key). Which version is
current is asked again after `CRM_DATA_KEY_TTL_S` seconds (30): a process that has not yet seen
a rotation encrypts under the previous version for at most that long, and `crm keys rotate`
sweeps for that long before it reports. A tenant's first key is made on first use, in a
transaction of its own (committed before anything is encrypted under it), so the tenant must be
committed first; a lock timeout turns the mistake into an error instead of a wait.

The deployment's own keys (`crm.deployment_keys`: `signin-index`, what must be computed before
a tenant is known) are held the same way: `tenant_id` None names them. Their first version is
made on first use by a role that may add one (the owner: the seed, the demo, rotation); the
restricted roles only read them, and with none stored a lookup has no version to match.

The keys live in the database that holds the values they encrypt, so a keyring reads one
database: `keyring(url)` is the one of `url`'s (what a worker handling that database's rows
asks for), `keyring()` this process's own (the configured database as the owner, or what
`use` set: the API points it at its restricted role, which reads and adds only its tenant's).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from uuid import UUID

import psycopg

from crm.keys.master import EnvMasterKeyProvider, MasterKeyProvider

DATA, INDEX = "data", "index"
SIGNIN_INDEX = "signin-index"
DEPLOYMENT = "deployment"
"""What the deployment's keys are bound to and cached under in place of a tenant."""
TTL_SETTING = "CRM_DATA_KEY_TTL_S"
LOCK_TIMEOUT = "5s"

CURRENT = (
    "SELECT version, wrapped_key, master_key_id FROM crm.tenant_data_keys"
    " WHERE tenant_id = %s AND kind = %s ORDER BY version DESC LIMIT 1"
)
ONE = (
    "SELECT version, wrapped_key, master_key_id FROM crm.tenant_data_keys"
    " WHERE tenant_id = %s AND kind = %s AND version = %s"
)
INSERT = (
    "INSERT INTO crm.tenant_data_keys (tenant_id, kind, version, wrapped_key, master_key_id)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
VERSIONS = "SELECT version FROM crm.tenant_data_keys WHERE tenant_id = %s AND kind = %s ORDER BY version"
DEPLOYMENT_SQL = {
    CURRENT: "SELECT version, wrapped_key, master_key_id FROM crm.deployment_keys"
    " WHERE %s::text IS NULL AND kind = %s ORDER BY version DESC LIMIT 1",
    ONE: "SELECT version, wrapped_key, master_key_id FROM crm.deployment_keys"
    " WHERE %s::text IS NULL AND kind = %s AND version = %s",
    INSERT: "INSERT INTO crm.deployment_keys (kind, version, wrapped_key, master_key_id)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
    VERSIONS: "SELECT version FROM crm.deployment_keys WHERE %s::text IS NULL AND kind = %s ORDER BY version",
}
"""The same statements for the deployment's keys, taking the same parameters (the tenant's
None) but for the insert, which has no tenant."""


def sql(statement: str, tenant_id: UUID | str | None) -> str:
    return statement if tenant_id is not None else DEPLOYMENT_SQL[statement]


def context(tenant_id: UUID | str | None, kind: str, version: int) -> bytes:
    """What a wrapped key is bound to: its tenant (or the deployment), kind and version."""
    return f"{tenant_id or DEPLOYMENT}:{kind}:{version}".encode()


def ttl_s() -> float:
    return float(os.environ.get(TTL_SETTING) or 30)


def add_version(
    conn: psycopg.Connection[Any], master: MasterKeyProvider, tenant_id: UUID | None, kind: str, version: int
) -> bool:
    """Store a fresh random key as `version` (in the caller's transaction); False if one exists."""
    wrapped, master_id = master.wrap(os.urandom(32), context(tenant_id, kind, version))
    if tenant_id is None:
        return conn.execute(DEPLOYMENT_SQL[INSERT], (kind, version, wrapped, master_id)).rowcount == 1
    return conn.execute(INSERT, (tenant_id, kind, version, wrapped, master_id)).rowcount == 1


class Keyring:
    """A process's view of the tenants' keys."""

    def __init__(self, master: MasterKeyProvider | None = None, url: str | None = None) -> None:
        self.master = master or EnvMasterKeyProvider()
        self.url = url
        self._keys: dict[tuple[str, str, str, int], bytes] = {}
        self._current: dict[tuple[str, str, str], tuple[int, float]] = {}
        self._versions: dict[tuple[str, str, str], tuple[list[int], float]] = {}
        self._lock = threading.Lock()

    def current(self, tenant_id: UUID | None, kind: str = DATA) -> tuple[int, bytes]:
        """(version, key) to encrypt with now; the tenant's (or deployment's) first key is made
        if it has none."""
        seen = self._current.get((self._scope(), str(tenant_id), kind))
        if seen is not None and time.monotonic() - seen[1] < ttl_s():
            return seen[0], self.key(tenant_id, seen[0], kind)
        with self._lock, self._connect(tenant_id) as conn:
            row = conn.execute(sql(CURRENT, tenant_id), (tenant_id, kind)).fetchone()
            if row is None:  # a conflict waits for the other maker's commit, then reads its key
                add_version(conn, self.master, tenant_id, kind, 1)
                row = conn.execute(sql(CURRENT, tenant_id), (tenant_id, kind)).fetchone()
                assert row is not None
            conn.commit()  # stored before anything is encrypted under it
        version = self._remember(tenant_id, kind, row)
        self._current[(self._scope(), str(tenant_id), kind)] = (version, time.monotonic())
        return version, self._keys[(self._scope(), str(tenant_id), kind, version)]

    def key(self, tenant_id: UUID | None, version: int, kind: str = DATA) -> bytes:
        """The key of `version` (any version still stored, retired ones included)."""
        found = self._keys.get((self._scope(), str(tenant_id), kind, version))
        if found is not None:
            return found
        with self._connect(tenant_id) as conn:
            row = conn.execute(sql(ONE, tenant_id), (tenant_id, kind, version)).fetchone()
        if row is None:
            from crm.secrets import KeyUnavailable

            raise KeyUnavailable(f"the tenant has no {kind} key version {version}")
        self._remember(tenant_id, kind, row)
        return self._keys[(self._scope(), str(tenant_id), kind, version)]

    def versions(self, tenant_id: UUID | None, kind: str = DATA) -> list[int]:
        """Every stored version of the tenant's keys of `kind` (for lookups across index
        versions), asked again after the same TTL as the current version."""
        seen = self._versions.get((self._scope(), str(tenant_id), kind))
        if seen is not None and time.monotonic() - seen[1] < ttl_s():
            return seen[0]
        with self._connect(tenant_id) as conn:
            rows = conn.execute(sql(VERSIONS, tenant_id), (tenant_id, kind)).fetchall()
        found = [r[0] for r in rows]
        if found:  # none yet is asked again: the first key may be made any moment
            self._versions[(self._scope(), str(tenant_id), kind)] = (found, time.monotonic())
        return found

    def expire(self, tenant_id: UUID | None, kind: str = DATA) -> None:
        """Ask for the current version again on next use (after this process rotated it)."""
        self._current.pop((self._scope(), str(tenant_id), kind), None)
        self._versions.pop((self._scope(), str(tenant_id), kind), None)

    def forget(self) -> None:
        """Drop every cached key (tests; after a master key was removed from the process)."""
        self._keys.clear()
        self._current.clear()
        self._versions.clear()

    def _scope(self) -> str:
        """The database the cached keys belong to: a tenant id names the same tenant in two
        databases (copies, re-seeded worlds), never the same keys."""
        if self.url:
            return self.url
        from crm.db import database_url

        return database_url()

    def prime(self, tenant_id: UUID, kind: str, version: int, key: bytes) -> None:
        """Hold a key this process stored itself in a transaction not yet committed (a bulk
        load adding its tenants and their keys together) as the tenant's current one for the
        ring's life: a ring made for that load alone, which must not ask the database."""
        self._keys[(self._scope(), str(tenant_id), kind, version)] = key
        self._current[(self._scope(), str(tenant_id), kind)] = (version, time.monotonic() + 1e9)

    def _remember(self, tenant_id: UUID | None, kind: str, row: tuple[Any, ...]) -> int:
        version, wrapped, master_id = row
        key = self.master.unwrap(bytes(wrapped), master_id, context(tenant_id, kind, version))
        self._keys[(self._scope(), str(tenant_id), kind, int(version))] = key
        return int(version)

    def _connect(self, tenant_id: UUID | None) -> psycopg.Connection[Any]:
        from crm.db import enter_tenant_pg, libpq_url

        conn = psycopg.connect(self.url or libpq_url())
        conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        if tenant_id is not None:
            enter_tenant_pg(conn, tenant_id)
        return conn


_default: Keyring | None = None
_by_url: dict[str, Keyring] = {}
_default_lock = threading.Lock()


def keyring(url: str | None = None) -> Keyring:
    """The keyring of `url`'s database (made on first use, its master key from the
    environment); without `url`, this process's own."""
    global _default
    with _default_lock:
        if url is not None:
            ring = _by_url.get(url)
            if ring is None:
                ring = _by_url[url] = Keyring(url=url)
            return ring
        if _default is None:
            _default = Keyring()
        return _default


def use(url: str | None = None, master: MasterKeyProvider | None = None) -> Keyring | None:
    """Replace this process's keyring: read keys through `url`, wrap with `master`.
    Returns the one replaced, for `restore` (an app that stops gives the process back)."""
    global _default
    with _default_lock:
        previous, _default = _default, Keyring(master, url)
        return previous


def restore(previous: Keyring | None) -> None:
    """Put back the keyring `use` replaced."""
    global _default
    with _default_lock:
        _default = previous
