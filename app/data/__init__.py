"""The data layer pages use: `fetch(name, **params)` for the signed-in tenant, cached.

Queries are cached per (query, tenant, parameters) with `st.cache_data`, so one tenant's rows can
never answer another tenant's request; the engine is one per process (`st.cache_resource`). A
cached answer is kept until a mart it reads is rebuilt: the key also holds those marts' build
times (`analytics.mart_freshness`, looked at every `FRESHNESS_TTL_SECONDS`), so a page shows a
refresh within seconds of it, and an unchanged mart is not queried again before the TTL.
"""

from __future__ import annotations

import os
from datetime import datetime

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from app.data.access import DataUnavailable, record_view, run_query
from app.data.engine import assert_restricted, make_reader_engine
from app.data.queries import QUERIES

CACHE_TTL_SECONDS = int(os.environ.get("CRM_APP_CACHE_TTL", "300"))
FRESHNESS_TTL_SECONDS = int(os.environ.get("CRM_APP_FRESHNESS_TTL", "5"))
FRESHNESS = "mart_freshness"

__all__ = ["CACHE_TTL_SECONDS", "DataUnavailable", "built_at", "engine", "fetch", "record_shown"]


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    e = make_reader_engine()
    assert_restricted(e)
    return e


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=2000)
def _cached(
    name: str, tenant_id: str, params: tuple[tuple[str, object], ...], built: tuple[str, ...] = ()
) -> pd.DataFrame:
    """`built`: the build times of the marts the query reads (part of the key only)."""
    return run_query(engine(), tenant_id, name, dict(params))


@st.cache_data(ttl=FRESHNESS_TTL_SECONDS, show_spinner=False, max_entries=500)
def _freshness(tenant_id: str) -> pd.DataFrame:
    return run_query(engine(), tenant_id, FRESHNESS)


def record_shown(name: str, tenant_id: str, user_id: str, params: dict[str, object], rows: int) -> None:
    """A page showed the rows of a query that returns personal data: recorded for the user
    (crm.access_log), cached or not; nothing for the other queries."""
    record_view(engine(), tenant_id, user_id, name, {**QUERIES[name].defaults, **params}, rows)


def built_at(tenant_id: str) -> dict[str, datetime]:
    """When each mart was last built (empty before the marts record it)."""
    try:
        frame = _freshness(str(tenant_id))
    except DataUnavailable:
        return {}
    return {str(r.relation): r.built_at for r in frame.itertuples()}


def fetch(name: str, tenant_id: str, **params: object) -> pd.DataFrame:
    """Rows of query `name` for `tenant_id` (raises `DataUnavailable` when the mart is missing)."""
    if name == FRESHNESS:
        return _freshness(str(tenant_id))
    built = built_at(tenant_id)
    stamp = tuple(str(built.get(r, "")) for r in QUERIES[name].relations)
    return _cached(name, str(tenant_id), tuple(sorted(params.items())), stamp)
