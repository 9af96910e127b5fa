"""A HubSpot account for the tests: its records, and a tenant's connection to it."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from integrations.external_sync import store
from standins.hubspot import TOKEN, Store


def seed(s: Store) -> None:
    """An account: two companies, three contacts, two deals (one moved through stages)."""
    acme = s.put(
        "companies",
        {
            "name": "Acme",
            "industry": "Software",
            "numberofemployees": "120",
            "lifecyclestage": "customer",
            "country": "US",
        },
    )["id"]
    bore = s.put("companies", {"name": "Borealis", "lifecyclestage": "lead"})["id"]
    for i, (email, company) in enumerate(
        [("ann@acme.com", acme), ("bob@acme.com", acme), ("cy@borealis.io", bore)]
    ):
        cid = s.put(
            "contacts",
            {
                "email": email,
                "firstname": f"P{i}",
                "lastname": "Q",
                "lifecyclestage": "lead",
                "hs_lead_status": "NEW",
            },
        )["id"]
        s.associate("contacts", cid, "companies", company)
    d1 = s.put(
        "deals",
        {
            "dealname": "Acme renewal",
            "amount": "12000",
            "pipeline": "default",
            "dealstage": "appointmentscheduled",
            "closedate": "2025-06-30T00:00:00.000Z",
        },
    )["id"]
    s.put("deals", {"dealstage": "qualifiedtobuy"}, d1)
    s.put("deals", {"dealstage": "contractsent"}, d1)
    s.associate("deals", d1, "companies", acme)
    s.associate("deals", d1, "contacts", "1003")
    d2 = s.put(
        "deals",
        {
            "dealname": "Borealis pilot",
            "amount": "3000",
            "pipeline": "default",
            "dealstage": "closedwon",
            "closedate": "2025-02-01T00:00:00.000Z",
        },
    )["id"]
    s.associate("deals", d2, "companies", bore)


def connect_hubspot(pg_url: str, tenant: uuid.UUID, url: str, **settings: Any) -> uuid.UUID:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return store.create_connection(
            conn,
            tenant,
            "hubspot",
            "main",
            {"access_token": TOKEN},
            base_url=url,
            settings={"page_size": 2, "backoff_s": 0.01, "backoff_max_s": 0.05} | settings,
        )
