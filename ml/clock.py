"""Each tenant's now in an ML run: the run's `as_of`, or the tenant's clock when it is earlier
(`crm.tenants`: a tenant holding historical data lives at the end of its data, so its label
cutoffs, scoring time and forecast start are its own)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm.db import connect
from crm.tenants import tenant_clocks, tenant_now


def run_clock(url: str | None, as_of: datetime) -> Callable[[str], datetime]:
    """tenant id -> that tenant's now in a run at `as_of` (the clocks read once per run)."""
    with connect(url) as conn:
        clocks = tenant_clocks(conn)
    return lambda tenant: tenant_now(clocks, tenant, as_of)
