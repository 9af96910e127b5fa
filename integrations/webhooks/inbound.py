"""Webhooks in: signature checks (HubSpot v3, Standard Webhooks), sanitising, and the rows
to store, one per sender event id."""

from __future__ import annotations

import hmac
import json
import time
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from hubspot.utils.signature import Signature
from standardwebhooks import Webhook, WebhookVerificationError

MAX_BODY = 256 * 1024
MAX_DEPTH = 32
MAX_STRING = 32 * 1024
TOLERANCE_S = 300
"""HubSpot's and Standard Webhooks' window: a request older (or newer) than 5 minutes is refused."""

HUBSPOT = "hubspot"


class Rejected(Exception):
    """The request is refused; `reason` is one of headers, timestamp, signature, payload."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def verify_hubspot(secret: str, method: str, uri: str, body: bytes, headers: dict[str, str]) -> None:
    """X-HubSpot-Signature-v3: base64 HMAC-SHA256 (the app's client secret) of method + URI
    (decoded) + body + X-HubSpot-Request-Timestamp (milliseconds, within 5 minutes)."""
    h = {k.lower(): v for k, v in headers.items()}
    signature, stamp = h.get("x-hubspot-signature-v3"), h.get("x-hubspot-request-timestamp")
    if not signature or not stamp:
        raise Rejected("headers", "X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required")
    try:
        age_s = abs(time.time() - int(stamp) / 1000)
    except ValueError:
        raise Rejected("timestamp", "X-HubSpot-Request-Timestamp is not a number") from None
    if age_s > TOLERANCE_S:
        raise Rejected("timestamp", "the request timestamp is outside the 5-minute window")
    expected = Signature.get_signature(
        secret, body.decode("utf-8", errors="replace"), "v3", unquote(uri), method.upper(), stamp
    )
    if not hmac.compare_digest(expected, signature):
        raise Rejected("signature", "the HubSpot signature does not verify")


def verify_standard(secret: str, body: bytes, headers: dict[str, str]) -> str:
    """Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature); returns the id."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        Webhook(secret).verify(body, h, json_parse=False)
    except WebhookVerificationError as exc:
        reason = "timestamp" if "timestamp" in str(exc).lower() else "signature"
        if "missing" in str(exc).lower():
            reason = "headers"
        raise Rejected(reason, f"the webhook signature does not verify: {exc}") from None
    return h["webhook-id"]


def _clean_text(s: str) -> str:
    # lone surrogates cannot be stored (or encoded); control characters other than tab and
    # newlines are dropped; over-long strings are cut
    out = "".join(
        ch
        for ch in s
        if not 0xD800 <= ord(ch) <= 0xDFFF and (ch in "\t\n\r" or unicodedata.category(ch) != "Cc")
    )
    return out[:MAX_STRING]


def sanitise(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise Rejected("payload", f"the payload nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, dict):
        return {_clean_text(str(k)): sanitise(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [sanitise(v, depth + 1) for v in value]
    return value  # numbers, booleans, null


def _no_constants(name: str) -> Any:
    raise Rejected("payload", f"{name} is not JSON")


def parse(body: bytes) -> Any:
    """The body as sanitised JSON (413/422 reasons raised as Rejected('payload'))."""
    if len(body) > MAX_BODY:
        raise Rejected("too_large", f"the body is larger than {MAX_BODY} bytes")
    try:
        value = json.loads(body.decode("utf-8", errors="surrogatepass"), parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise Rejected("payload", f"the body is not JSON: {str(exc)[:200]}") from None
    return sanitise(value)


@dataclass
class Received:
    sender_id: str
    event_type: str | None
    object_type: str | None
    object_id: str | None
    payload: Any


def hubspot_events(payload: Any) -> list[Received]:
    """HubSpot sends a batch: a list of events, each with eventId, subscriptionType
    (`contact.propertyChange`, `deal.creation`...) and objectId."""
    if not isinstance(payload, list) or not all(isinstance(e, dict) and "eventId" in e for e in payload):
        raise Rejected("payload", "a HubSpot notification is a list of events, each with an eventId")
    out = []
    for e in payload:
        kind = str(e.get("subscriptionType") or "") or None
        obj = e.get("objectId")
        out.append(
            Received(
                str(e["eventId"]),
                kind,
                kind.split(".", 1)[0] if kind else None,
                None if obj is None else str(obj),
                e,
            )
        )
    return out


def standard_event(sender_id: str, payload: Any) -> Received:
    kind = payload.get("type") or payload.get("event_type") if isinstance(payload, dict) else None
    return Received(sender_id, str(kind) if kind else None, None, None, payload)
