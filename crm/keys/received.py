"""Inbound webhook requests as stored: `crm.webhooks_received.payload`, sealed.

A sender's request (HubSpot's contact and deal events, any Standard Webhooks sender's body) is
verified, sanitised and kept until it is acted on; it carries what the sender knows of people
(names, e-mails, notes), so the JSON is stored as `v2:dk<version>:<base64>` text under the
tenant's data key, its associated data `<tenant>:webhook-received`. Its readers (the API's list
of received webhooks, erasure) open it. A request stored before the column was encrypted is its
JSON text and reads as it is, until `crm keys rotate` seals it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from crm.keys import sealed
from crm.keys.keyring import Keyring
from crm.secrets import EnvKeyProvider

TABLE = "webhooks_received"
COLUMN = "payload"
PURPOSE = "webhook-received"
LEGACY = ("CRM_WEBHOOKS_RECEIVED_LEGACY_KEY", "crm-webhooks-received")
"""No key: requests before encryption were readable JSON, never `v1:` values."""
_NO_LEGACY = EnvKeyProvider(*LEGACY)


def aad(tenant_id: UUID | str) -> bytes:
    return f"{tenant_id}:{PURPOSE}".encode()


def sealer(tenant_id: UUID, ring: Keyring | None = None) -> Callable[[Any], str]:
    """Seals a tenant's requests' sanitised JSON under its current data key, looked up once
    (a sender's batch)."""
    seal, fixed = sealed.text_sealer(tenant_id, ring), aad(tenant_id)
    return lambda payload: seal(json.dumps(payload).encode(), fixed)


def open_payload(tenant_id: UUID | str, stored: str, ring: Keyring | None = None) -> Any:
    """The request's JSON, of a sealed value or of one stored before encryption."""
    if stored.startswith("v2:"):
        tid = UUID(str(tenant_id))
        return json.loads(sealed.unseal_text(tid, stored, aad(tid), _NO_LEGACY, ring))
    return json.loads(stored)
