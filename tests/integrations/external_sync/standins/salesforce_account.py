"""A Salesforce org for the tests: its records, the stand-in serving it, and a tenant's
connection to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from integrations.external_sync import store
from standins.salesforce import SESSION, Running, Store


def seed(s: Store) -> dict[str, str]:
    """Two accounts, two contacts and a lead, two opportunities (one moved through stages), a
    task, an event and a case; their ids by name."""
    acme = s.put(
        "Account",
        {
            "Name": "Acme",
            "Type": "Customer - Direct",
            "Industry": "Software",
            "NumberOfEmployees": 120,
            "BillingCountry": "US",
        },
    )["Id"]
    bore = s.put("Account", {"Name": "Borealis", "Type": "Prospect"})["Id"]
    ann = s.put("Contact", {"Email": "ann@acme.com", "FirstName": "Ann", "LastName": "Q", "AccountId": acme})[
        "Id"
    ]
    bob = s.put("Contact", {"Email": "bob@acme.com", "FirstName": "Bob", "LastName": "Q", "AccountId": acme})[
        "Id"
    ]
    cy = s.put(
        "Lead",
        {
            "Email": "cy@borealis.io",
            "FirstName": "Cy",
            "LastName": "Q",
            "Company": "Borealis",
            "Status": "Open - Not Contacted",
            "IsConverted": False,
        },
    )["Id"]
    renewal = s.put(
        "Opportunity",
        {
            "Name": "Acme renewal",
            "Amount": 12000,
            "StageName": "Prospecting",
            "CloseDate": "2025-06-30",
            "AccountId": acme,
            "ContactId": ann,
        },
    )["Id"]
    s.put("Opportunity", {"StageName": "Qualification"}, renewal)
    s.put("Opportunity", {"StageName": "Negotiation/Review", "Probability": 90}, renewal)
    pilot = s.put(
        "Opportunity",
        {
            "Name": "Borealis pilot",
            "Amount": 3000,
            "StageName": "Closed Won",
            "CloseDate": "2025-02-01",
            "AccountId": bore,
        },
    )["Id"]
    s.put(
        "Task",
        {
            "WhatId": renewal,
            "Subject": "Kickoff call",
            "TaskSubtype": "Call",
            "Status": "Completed",
            "ActivityDate": "2025-03-02",
        },
    )
    s.put(
        "Event",
        {
            "WhoId": ann,
            "Subject": "Demo",
            "EventSubtype": "Event",
            "StartDateTime": "2025-03-03T15:00:00.000+0000",
        },
    )
    s.put(
        "Case",
        {
            "CaseNumber": "00001001",
            "Subject": "Login fails",
            "Status": "New",
            "Priority": "High",
            "Origin": "Email",
            "AccountId": acme,
            "IsClosed": False,
        },
    )
    return {"acme": acme, "bore": bore, "ann": ann, "bob": bob, "cy": cy, "renewal": renewal, "pilot": pilot}


@pytest.fixture
def salesforce() -> Iterator[Running]:
    s = Store(min_batch=1)
    seed(s)
    with Running(s) as running:
        yield running


def connect_salesforce(pg_url: str, tenant: uuid.UUID, running: Running, **settings: Any) -> uuid.UUID:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return store.create_connection(
            conn,
            tenant,
            "salesforce",
            "main",
            {"access_token": SESSION},
            base_url=running.url,
            settings={"page_size": 2, "backoff_s": 0.01, "backoff_max_s": 0.05, "ca_bundle": running.ca}
            | settings,
        )
