"""Feature mart rows for the on-demand scores, read under the caller's tenant (row-level
security) and typed exactly as the batch reads them (`ml.store.read_table`,
`ml.marts.model_frame`): the same row gives the same score. A mart's column list is kept per
process and read again when dbt has rebuilt it (a new relation oid)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import polars as pl

from api.core.db import Conn, fetchall, fetchone
from crm.errors import CRMError, CRMErrorCode
from ml import marts, store
from ml.churn import RuleReference

Columns = list[tuple[str, str]]


class MartColumns:
    """(name, type) columns of each mart, by the relation's oid."""

    def __init__(self) -> None:
        self._cols: dict[str, tuple[int, Columns]] = {}

    async def get(self, conn: Conn, relation: str) -> tuple[int, Columns]:
        row = await fetchone(conn, "SELECT to_regclass(%s)::oid AS oid", (relation,))
        oid = row["oid"] if row else None
        if oid is None:
            raise CRMError(
                CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
                f"{relation} is not built yet: scores need the warehouse's features (run dbt)",
                {"table": relation},
            )
        held = self._cols.get(relation)
        if held is not None and held[0] == oid:
            return held
        rows = await fetchall(
            conn,
            "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a"
            " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (oid,),
        )
        held = (oid, [(r["name"], r["type"]) for r in rows])
        self._cols[relation] = held
        return held


async def feature_frame(
    conn: Conn, columns: MartColumns, relation: str, where: dict[str, Any]
) -> tuple[int, pl.DataFrame]:
    """(the mart's oid, its rows where every `where` column equals its value, or is one of
    them for a list) as the model's frame. Values are bound; column names come from the code."""
    oid, cols = await columns.get(conn, relation)
    schema, name = relation.split(".")
    cond = " AND ".join(
        f'"{c}" = ANY(%s)' if isinstance(v, list) else f'"{c}" = %s' for c, v in where.items()
    )
    rows = await fetchall(
        conn,
        f'SELECT {store.select_list(cols)} FROM "{schema}"."{name}" WHERE {cond or "true"}',
        tuple(where.values()),
    )
    frame = store.frame_of_rows([tuple(r[c] for c, _ in cols) for r in rows], cols)
    return oid, marts.model_frame(relation, frame)


async def entity_row(
    conn: Conn, columns: MartColumns, relation: str, tenant: UUID, key: str, entity_id: UUID, label: str
) -> pl.DataFrame:
    """The one feature row of an entity; 503 when the warehouse has not seen it yet (created
    since the last refresh: its score follows that refresh)."""
    _, row = await feature_frame(conn, columns, relation, {"tenant_id": tenant, key: entity_id})
    if row.height == 0:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
            f"{label} {entity_id} has no features yet: the warehouse has not taken it in (retry after its refresh)",
            {"id": str(entity_id), "table": relation},
        )
    return row


class RuleReferences:
    """Per tenant, what the churn rules rank a customer against (`ml.churn.RuleReference`:
    the tenant's active customers, as the batch scores them), kept until the mart is rebuilt."""

    def __init__(self, columns: MartColumns) -> None:
        self.columns = columns
        self._refs: dict[UUID, tuple[int, RuleReference]] = {}

    async def get(self, conn: Conn, relation: str, tenant: UUID) -> RuleReference:
        oid, _ = await self.columns.get(conn, relation)
        held = self._refs.get(tenant)
        if held is not None and held[0] == oid:
            return held[1]
        oid, frame = await feature_frame(
            conn, self.columns, relation, {"tenant_id": tenant, "is_active_at_snapshot": True}
        )
        ref = RuleReference.of(frame)
        self._refs[tenant] = (oid, ref)
        return ref
