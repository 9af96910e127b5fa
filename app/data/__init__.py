"""The data layer pages use: `fetch(name, **params)` for the signed-in tenant, cached.

Queries are cached per (query, tenant, parameters) with `st.cache_data` and a TTL, so one
tenant's rows can never answer another tenant's request; the engine is one per process
(`st.cache_resource`).
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from app.data.access import DataUnavailable, run_query
from app.data.engine import assert_restricted, make_reader_engine

CACHE_TTL_SECONDS = int(os.environ.get("CRM_APP_CACHE_TTL", "300"))

__all__ = ["CACHE_TTL_SECONDS", "DataUnavailable", "engine", "fetch"]


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    e = make_reader_engine()
    assert_restricted(e)
    return e


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=2000)
def _cached(name: str, tenant_id: str, params: tuple[tuple[str, object], ...]) -> pd.DataFrame:
    return run_query(engine(), tenant_id, name, dict(params))


def fetch(name: str, tenant_id: str, **params: object) -> pd.DataFrame:
    """Rows of query `name` for `tenant_id` (raises `DataUnavailable` when the mart is missing)."""
    return _cached(name, str(tenant_id), tuple(sorted(params.items())))
