"""A tenant's clock: the "now" of a tenant whose data is historical.

A tenant holding an imported archive (a public data set, a closed business) lives at the end
of its own data, not at the database's now: its series would otherwise run to today with
years of zeros, and its labels and recency features would mean nothing. Its clock is the
setting `crm.tenants.settings->>'as_of'` (an ISO 8601 timestamp, UTC when it names no
offset); without it the tenant is live and uses the normal now. The warehouse reads the same
setting (dbt's `stg_crm__tenants` and `int_tenant_clocks`); the key is named here only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import psycopg

TENANT_CLOCK_SETTING: Final = "as_of"
"""The key of `crm.tenants.settings` holding a tenant's clock."""


def parse_clock(value: str) -> datetime:
    """An ISO 8601 timestamp or date as an aware datetime: UTC when it names no offset."""
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def tenant_clocks(conn: psycopg.Connection) -> dict[str, datetime]:
    """{tenant id: its clock} for the tenants that have one (live tenants are absent).

    A value that is not an ISO timestamp raises (naming the tenant): a wrong clock must not
    quietly turn a historical tenant live."""
    rows = conn.execute(
        "SELECT id::text, settings ->> %s FROM crm.tenants WHERE settings ->> %s IS NOT NULL",
        (TENANT_CLOCK_SETTING, TENANT_CLOCK_SETTING),
    ).fetchall()
    clocks: dict[str, datetime] = {}
    for tenant_id, value in rows:
        try:
            clocks[tenant_id] = parse_clock(value)
        except ValueError as exc:
            raise ValueError(
                f"tenant {tenant_id}: settings.{TENANT_CLOCK_SETTING} {value!r} is not an ISO 8601 timestamp"
            ) from exc
    return clocks


def tenant_now(clocks: dict[str, datetime], tenant_id: str, now: datetime) -> datetime:
    """The tenant's now in a run at `now`: the earlier of the two when it has a clock (a run
    pinned to an earlier time stays there), else `now`. A naive `now` counts as UTC."""
    clock = clocks.get(tenant_id)
    if clock is None:
        return now
    aware = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return clock if clock < aware else now
