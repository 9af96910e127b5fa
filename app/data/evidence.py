"""The quoted evidence of the conversation signals a page shows, opened from the operational store.

A signal's evidence is a span of what someone wrote in a conversation, stored sealed under the
tenant's data key (`crm.keys.event_text`), so the mart of signals leaves it out and the pages
that show it (Customer 360, Deal) ask here for the signals they list. It is read from
`crm.conversation_signals` as the dashboards' role, in a transaction signed for the tenant
(row-level security admits its rows only; migration 2013 grants the id and evidence columns), on
the primary, and opened with that database's keyring, as `app.data.people` does for names. The
page's query records the view of the signals (`crm.access_log`). Opened values are cached per
tenant and signals for `PEOPLE_TTL_SECONDS`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

import psycopg
import streamlit as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app.data.access import STATEMENT_TIMEOUT
from app.data.people import PEOPLE_TTL_SECONDS, _engine
from crm.db import enter_tenant, libpq_url
from crm.keys import event_text
from crm.keys.keyring import keyring
from crm.secrets import KeyUnavailable, Undecryptable

log = logging.getLogger(__name__)

MAX_SIGNALS = 1000
"""At most this many signals in one call (a page lists 200 at most)."""


class EvidenceUnavailable(RuntimeError):
    """The evidence cannot be read now (the store or the keys cannot be read)."""


def read_evidence(engine: Engine, tenant_id: str, ids: tuple[str, ...]) -> dict[str, str | None]:
    """signal id -> its readable evidence, for the tenant's signals among `ids` (None for one
    that does not open). Uncached: pages call `evidence`."""
    try:
        with engine.begin() as conn:
            enter_tenant(conn, tenant_id)
            conn.execute(text("select set_config('statement_timeout', :st, true)"), {"st": STATEMENT_TIMEOUT})
            rows = conn.execute(
                text(
                    "select id::text, evidence from crm.conversation_signals"
                    " where tenant_id = cast(:tenant_id as uuid) and id = any(cast(:ids as uuid[]))"
                ),
                {"tenant_id": str(tenant_id), "ids": list(ids)},
            ).all()
        ring = keyring(libpq_url(engine.url.render_as_string(hide_password=False)))
        tenant = uuid.UUID(str(tenant_id))
        out: dict[str, str | None] = {}
        for signal_id, stored in rows:
            try:
                out[signal_id] = event_text.open_evidence(tenant, stored, ring)
            except (Undecryptable, ValueError) as exc:
                log.warning("evidence of signal %s not opened: %s", signal_id, exc)
                out[signal_id] = None
        return out
    except (DBAPIError, psycopg.Error, KeyUnavailable) as exc:
        raise EvidenceUnavailable(f"the evidence cannot be read right now ({type(exc).__name__})") from exc


@st.cache_data(ttl=PEOPLE_TTL_SECONDS, show_spinner=False, max_entries=200)
def _opened(tenant_id: str, ids: tuple[str, ...]) -> dict[str, str | None]:
    return read_evidence(_engine(), tenant_id, ids)


def evidence(tenant_id: str, ids: Iterable[object]) -> dict[str, str | None]:
    """signal id -> readable evidence for these signals of the tenant. Raises
    `EvidenceUnavailable`."""
    wanted = tuple(sorted({str(uuid.UUID(str(i))) for i in ids}))
    if len(wanted) > MAX_SIGNALS:
        raise ValueError(f"at most {MAX_SIGNALS} signals at a time, asked for {len(wanted)}")
    return _opened(str(tenant_id), wanted) if wanted else {}
