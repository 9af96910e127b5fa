"""Leads and customers of a test database, their people's values sealed (`crm.keys.personal`):
found by e-mail through the blind index and opened to read, as the owner, for assertions only.
(`tests/integrations` is on the path through its conftest.)"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from crm.keys import notes, personal
from crm.keys.keyring import keyring


@dataclass(frozen=True)
class People:
    """A database's leads and customers: by e-mail through the blind index, opened to read."""

    url: str

    def where(self, tenant: Any, email: str) -> tuple[str, dict[str, Any]]:
        """(condition, named parameters) of the tenant's rows with this e-mail (any case)."""
        params = personal.email_params(uuid.UUID(str(tenant)), email, keyring(self.url))
        return f"tenant_id = %(tenant)s AND {personal.email_match()}", params | {"tenant": tenant}

    def rows(self, table: str, tenant: Any, email: str) -> list[dict[str, Any]]:
        """The tenant's rows of `table` with this e-mail, opened, oldest first."""
        sql, params = self.where(tenant, email)
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            found = conn.execute(
                f"SELECT * FROM crm.{table} WHERE {sql} ORDER BY created_at", params
            ).fetchall()
        return [self.opened(table, r) for r in found]

    def id(self, table: str, tenant: Any, email: str) -> uuid.UUID:
        """The id of the tenant's one row of `table` with this e-mail."""
        found = self.rows(table, tenant, email)
        assert len(found) == 1, f"{len(found)} {table} with {email}"
        return found[0]["id"]

    def opened(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        return personal.open_row(row["tenant_id"], table, row, keyring(self.url))

    def open_value(self, tenant: Any, column: str, value: Any) -> Any:
        return personal.open_value(uuid.UUID(str(tenant)), column, value, keyring(self.url))

    def note(self, tenant: Any, value: Any) -> Any:
        """An activity's description readable (`crm.keys.notes`)."""
        return notes.open_note(tenant, value, keyring(self.url))

    def sealed(self, table: str, tenant: Any, row: dict[str, Any]) -> dict[str, Any]:
        """`row` as a writer stores it: people's values sealed, their indexes beside."""
        return personal.seal_row(uuid.UUID(str(tenant)), table, row, keyring(self.url))

    @staticmethod
    def assert_sealed(row: dict[str, Any], *columns: str) -> None:
        """Each of `columns` holds a sealed value (`v2:dk...`), not readable text."""
        for c in columns:
            assert isinstance(row[c], str) and row[c].startswith(personal.SEALED_PREFIX), (c, row[c])

    def stored(self, table: str, row_id: Any) -> dict[str, Any]:
        """One row by id, as stored."""
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            row = conn.execute(f"SELECT * FROM crm.{table} WHERE id = %s", (row_id,)).fetchone()
        assert row is not None, f"no {table} {row_id}"
        return row

    def get(self, table: str, row_id: Any) -> dict[str, Any]:
        """One row by id, opened."""
        return self.opened(table, self.stored(table, row_id))
