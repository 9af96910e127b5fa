"""The one way the dashboards name a person: the readable e-mail and names of some leads or
customers of the signed-in tenant, or the names of some of its users (a lead's owner), opened
from the operational store and recorded.

People's e-mail and names are stored encrypted under the tenant's data key (`crm.keys.personal`)
and the marts carry only the e-mail's key and domain, so a page that must name someone (a lead's
page, the leads a rep works, a customer's contact) asks here for exactly the ids it shows; so
is a user's full name (`crm.keys.staff`; the marts name an owner by role and id). The sealed
columns are read from `crm.leads` / `crm.customers` / `crm.users` as the dashboards' role, in a
transaction signed for the tenant (row-level security admits its rows only; migrations 2009 and
2011 grant those columns and the tenant's data keys, nothing else), on the primary: the read is
recorded there. Values are opened with the keyring of that database (`crm.keys.keyring`), a
value written before encryption reads as it is. Every call records for the user how many people
it returned with a name or an e-mail (`crm.access_log`, entity `leads`, `customers` or `users`, the
record when there is one), cached or not; when the read cannot be recorded nothing is shown.
Opened values are cached per tenant and ids for `PEOPLE_TTL_SECONDS` only.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
import streamlit as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app.data.access import STATEMENT_TIMEOUT, record_access
from app.data.engine import assert_restricted, make_reader_engine
from crm.db import enter_tenant, libpq_url
from crm.keys import personal, staff
from crm.keys.keyring import keyring
from crm.secrets import KeyUnavailable, Undecryptable
from crm.settings import get_settings

log = logging.getLogger(__name__)

PEOPLE_TTL_SECONDS = int(os.environ.get("CRM_APP_PEOPLE_TTL", "60"))
MAX_PEOPLE = 500
"""At most this many people in one call (a page lists a few hundred at most)."""
TABLES: dict[str, str] = {"leads": "crm.leads", "customers": "crm.customers", "users": "crm.users"}
SHOWN: dict[str, tuple[str, ...]] = {
    "leads": ("email", "first_name", "last_name"),
    "customers": ("email", "first_name", "last_name"),
    "users": ("full_name",),
}
"""The sealed columns the pages show (a person's phone and a user's e-mail stay sealed: no page
shows them)."""


class PeopleUnavailable(RuntimeError):
    """Names cannot be shown now (the store or the keys cannot be read, or the read cannot be
    recorded): the page names people by their pseudonymous label instead."""


@dataclass(frozen=True)
class Person:
    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None  # a user's

    @property
    def name(self) -> str | None:
        """First and last name (a user's full name), None when the record has neither."""
        parts = (self.full_name,) if self.full_name is not None else (self.first_name, self.last_name)
        full = " ".join(p.strip() for p in parts if p and p.strip())
        return full or None

    @property
    def label(self) -> str | None:
        """What names the person in a list: the name, else the e-mail."""
        return self.name or self.email

    @property
    def shown(self) -> bool:
        return self.label is not None


@st.cache_resource(show_spinner=False)
def _engine() -> Engine:
    """The dashboards' role on the primary (the read is recorded there, and is the freshest)."""
    e = make_reader_engine(get_settings().database_url)
    assert_restricted(e)
    return e


def _ids(ids: Iterable[object]) -> tuple[str, ...]:
    """The distinct well-formed ids, sorted (a page's query parameter may hold anything)."""
    out: set[str] = set()
    for i in ids:
        try:
            out.add(str(uuid.UUID(str(i))))
        except ValueError:
            continue
    if len(out) > MAX_PEOPLE:
        raise ValueError(f"at most {MAX_PEOPLE} people at a time, asked for {len(out)}")
    return tuple(sorted(out))


def read_people(engine: Engine, tenant_id: str, table: str, ids: tuple[str, ...]) -> dict[str, Person]:
    """The people of `table` (leads, customers or users) with these ids in the tenant, opened;
    ids the tenant does not have are left out. Uncached and unrecorded: pages call `people`."""
    source = TABLES[table]
    try:
        with engine.begin() as conn:
            enter_tenant(conn, tenant_id)
            conn.execute(text("select set_config('statement_timeout', :st, true)"), {"st": STATEMENT_TIMEOUT})
            rows = conn.execute(
                text(
                    f"select id::text as id, {', '.join(SHOWN[table])} from {source}"
                    " where tenant_id = cast(:tenant_id as uuid) and id = any(cast(:ids as uuid[]))"
                ),
                {"tenant_id": str(tenant_id), "ids": list(ids)},
            ).mappings()
            found = [dict(r) for r in rows]
        ring = keyring(libpq_url(engine.url.render_as_string(hide_password=False)))
        tenant = uuid.UUID(str(tenant_id))
        out: dict[str, Person] = {}
        for row in found:
            try:
                if table == staff.TABLE:
                    opened = staff.open_row(tenant, row, ring)
                else:
                    opened = personal.open_row(tenant, table, row, ring)
            except (Undecryptable, KeyUnavailable, ValueError) as exc:
                log.warning("%s %s not opened: %s", table, row["id"], exc)
                opened = {"id": row["id"]}
            out[row["id"]] = Person(
                str(row["id"]),
                opened.get("email"),
                opened.get("first_name"),
                opened.get("last_name"),
                opened.get("full_name"),
            )
        return out
    except (DBAPIError, psycopg.Error, KeyUnavailable) as exc:
        raise PeopleUnavailable(f"names cannot be read right now ({type(exc).__name__})") from exc


@st.cache_data(ttl=PEOPLE_TTL_SECONDS, show_spinner=False, max_entries=200)
def _opened(tenant_id: str, table: str, ids: tuple[str, ...]) -> dict[str, Person]:
    return read_people(_engine(), tenant_id, table, ids)


def people(tenant_id: str, user_id: str, table: str, ids: Iterable[object]) -> dict[str, Person]:
    """id -> `Person` for these leads, customers or users of the tenant (`table`: `leads`,
    `customers` or `users`), recorded for `user_id` as a read of as many people as come back
    named; the record's id is logged when one was asked for. Raises `PeopleUnavailable`."""
    if table not in TABLES:
        raise ValueError(f"people are leads, customers or users, not {table!r}")
    wanted = _ids(ids)
    if not wanted:
        return {}
    found = _opened(str(tenant_id), table, wanted)
    shown = sum(1 for p in found.values() if p.shown)
    if shown:
        try:
            record_access(
                _engine(), str(tenant_id), str(user_id), table, wanted[0] if len(wanted) == 1 else None, shown
            )
        except DBAPIError as exc:
            log.warning("read of %d %s not recorded, not shown: %s", shown, table, exc)
            raise PeopleUnavailable(
                "names cannot be shown right now (the read could not be recorded)"
            ) from exc
    return found
