"""A Salesforce stand-in: the REST API resources simple-salesforce calls, as Salesforce's REST API
reference describes them, served over HTTPS (simple-salesforce only speaks https) on loopback.

- `GET /services/data/vXX.X/query?q=` and `/queryAll?q=` (deleted records too) with a SOQL
  subset: `SELECT f, ... FROM Object [WHERE cond AND ...] [ORDER BY f [ASC|DESC], ...]`,
  conditions `field =|!=|>|>=|<|<= literal` and `field IN ('a', ...)`; paged by
  `nextRecordsUrl` (`/services/data/vXX.X/query/<locator>-<offset>`), the batch size from
  `Sforce-Query-Options: batchSize=n` (200 to 2,000, default 2,000);
- `POST /sobjects/<Object>/` create, `GET|PATCH|DELETE /sobjects/<Object>/<id>`: a deleted
  record goes to the recycle bin (`IsDeleted`, seen by queryAll), an Account's delete takes its
  contacts, opportunities and cases with it, an Opportunity's stage change writes an
  OpportunityHistory row;
- bearer session ids, errors as `[{"message", "errorCode"}]`, and optional faults before any
  change: on every n-th call, in turn 429 with Retry-After, 503 and 500.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import itertools
import re
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from standins import hubspot

SESSION = "00Dstandin!session"
PREFIX = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "OpportunityHistory": "008",
    "Lead": "00Q",
    "Task": "00T",
    "Event": "00U",
    "Case": "500",
}
REQUIRED = {
    "Account": ("Name",),
    "Contact": ("LastName",),
    "Lead": ("LastName", "Company"),
    "Opportunity": ("Name", "StageName", "CloseDate"),
}
READ_ONLY = {"Id", "IsDeleted", "SystemModstamp", "CreatedDate", "LastModifiedDate", "IsClosed", "IsWon"}
CASCADE: dict[str, tuple[tuple[str, str], ...]] = {
    "Account": (("Contact", "AccountId"), ("Opportunity", "AccountId"), ("Case", "AccountId")),
    "Opportunity": (("OpportunityHistory", "OpportunityId"),),
}


def stamp(t: datetime) -> str:
    """Salesforce's dateTime as the REST API returns it: `2025-03-01T00:00:00.007+0000`."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code}], status, headers=headers)


@dataclass
class Store:
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    clock: datetime = datetime(2025, 3, 1, tzinfo=UTC)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    cursors: dict[str, tuple[list[dict[str, Any]], list[str], str]] = field(default_factory=dict)
    calls: int = 0
    writes: int = 0
    faults: int = 0
    fault_every: int = 0
    retry_after: str = "0"
    min_batch: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tick(self) -> datetime:
        self.clock += timedelta(milliseconds=7)
        return self.clock

    def put(
        self, obj: str, values: dict[str, Any], rid: str | None = None, at: str | None = None
    ) -> dict[str, Any]:
        """Create or update a record as Salesforce does: its audit fields, an Opportunity's
        IsClosed/IsWon from its stage and an OpportunityHistory row when the stage changes (in
        the same transaction: at the same time)."""
        now = at or stamp(self.tick())
        table = self.objects.setdefault(obj, {})
        rec = table.get(rid) if rid else None
        if rec is None:
            rid = rid or f"{PREFIX[obj]}{next(self.ids):012d}"
            rec = {"Id": rid, "CreatedDate": now, "IsDeleted": False}
            table[rid] = rec
        old_stage = rec.get("StageName")
        rec.update(values)
        rec["SystemModstamp"] = rec["LastModifiedDate"] = now
        if obj == "Opportunity":
            rec["IsClosed"] = rec.get("StageName") in ("Closed Won", "Closed Lost")
            rec["IsWon"] = rec.get("StageName") == "Closed Won"
            if rec.get("StageName") != old_stage:
                history = {k: rec.get(k) for k in ("StageName", "Amount", "CloseDate", "Probability")}
                self.put("OpportunityHistory", history | {"OpportunityId": rid}, at=now)
        return rec

    def delete(self, obj: str, rid: str) -> None:
        rec = self.objects[obj][rid]
        rec["IsDeleted"] = True
        rec["SystemModstamp"] = rec["LastModifiedDate"] = stamp(self.tick())
        for child, ref in CASCADE.get(obj, ()):
            for other in list(self.objects.get(child, {}).values()):
                if other.get(ref) == rid and not other["IsDeleted"]:
                    self.delete(child, other["Id"])

    def live(self, obj: str, rid: str) -> dict[str, Any] | None:
        rec = self.objects.get(obj, {}).get(rid)
        return rec if rec is not None and not rec["IsDeleted"] else None


# --- a SOQL subset ---------------------------------------------------------------------------

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(r"^(\w+)\s*(=|!=|>=|<=|>|<|\s+IN\s+)\s*(.+)$", re.IGNORECASE | re.DOTALL)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


class Malformed(ValueError):
    pass


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("\\'", "'")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "null":
        return None
    if _DATETIME.match(text):
        return datetime.fromisoformat(text)
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    raise Malformed(f"unexpected token: '{text}'")


def _value(rec: dict[str, Any], name: str, like: Any) -> Any:
    v = rec.get(name)
    if isinstance(like, datetime) and isinstance(v, str):
        return datetime.fromisoformat(v)
    return v


def _match(rec: dict[str, Any], cond: tuple[str, str, Any]) -> bool:
    name, op, want = cond
    if op == "in":
        return rec.get(name) in want
    have = _value(rec, name, want)
    if op in ("=", "!="):
        return (have == want) == (op == "=")
    if have is None:
        return False
    return {">": have > want, ">=": have >= want, "<": have < want, "<=": have <= want}[op]


def _sort_key(rec: dict[str, Any], name: str) -> tuple[bool, str]:
    v = rec.get(name)
    return v is None, str(v or "")


def parse(soql: str) -> tuple[list[str], str, list[tuple[str, str, Any]], list[tuple[str, bool]]]:
    """(fields, object, conditions, order) of a query in the subset; Malformed otherwise."""
    m = _QUERY.match(soql)
    if not m:
        raise Malformed("unexpected query")
    fields = [f.strip() for f in m["fields"].split(",")]
    conds: list[tuple[str, str, Any]] = []
    for part in re.split(r"\s+AND\s+", m["where"] or "", flags=re.IGNORECASE) if m["where"] else []:
        c = _COND.match(part.strip())
        if not c:
            raise Malformed(f"unexpected condition: {part}")
        name, op, rest = c[1], c[2].strip().lower(), c[3].strip()
        if op == "in":
            if not (rest.startswith("(") and rest.endswith(")")):
                raise Malformed("IN needs a list")
            conds.append((name, "in", {_literal(x) for x in rest[1:-1].split(",")}))
        else:
            conds.append((name, op, _literal(rest)))
    order = []
    for part in (m["order"] or "").split(",") if m["order"] else []:
        bits = part.split()
        order.append((bits[0], len(bits) > 1 and bits[1].upper() == "DESC"))
    return fields, m["obj"], conds, order


# --- the app ----------------------------------------------------------------------------------


def make_app(store: Store) -> Starlette:
    def guard(request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {SESSION}":
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        with store.lock:
            store.calls += 1
            if store.fault_every and store.calls % store.fault_every == 0:
                store.faults += 1
                kind = store.faults % 3
                if kind == 1:
                    return _error(
                        429,
                        "REQUEST_LIMIT_EXCEEDED",
                        "TotalRequests Limit exceeded.",
                        {"Retry-After": store.retry_after},
                    )
                if kind == 2:
                    return _error(503, "SERVER_UNAVAILABLE", "Server unavailable")
                return _error(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred")
        return None

    def view(obj: str, rec: dict[str, Any], fields: list[str], version: str) -> dict[str, Any]:
        attrs = {"type": obj, "url": f"/services/data/{version}/sobjects/{obj}/{rec['Id']}"}
        return {"attributes": attrs} | {f: rec.get(f) for f in fields}

    def page(version: str, locator: str, offset: int, size: int, all_rows: bool) -> dict[str, Any]:
        rows, fields, obj = store.cursors[locator]
        batch = rows[offset : offset + size]
        out: dict[str, Any] = {
            "totalSize": len(rows),
            "done": offset + size >= len(rows),
            "records": [view(obj, r, fields, version) for r in batch],
        }
        if not out["done"]:
            kind = "queryAll" if all_rows else "query"
            out["nextRecordsUrl"] = f"/services/data/{version}/{kind}/{locator}-{offset + size}"
        return out

    def batch_size(request: Request) -> int:
        options = request.headers.get("sforce-query-options") or ""
        m = re.search(r"batchSize=(\d+)", options)
        return min(max(int(m[1]), store.min_batch), 2000) if m else 2000

    async def query(request: Request) -> Response:
        if (bad := guard(request)) is not None:
            return bad
        version = request.path_params["v"]
        all_rows = request.url.path.rstrip("/").split("/")[-1] == "queryAll"
        try:
            fields, obj, conds, order = parse(request.query_params.get("q") or "")
        except Malformed as exc:
            return _error(400, "MALFORMED_QUERY", str(exc))
        if obj not in PREFIX:
            return _error(400, "INVALID_TYPE", f"sObject type '{obj}' is not supported.")
        with store.lock:
            rows = [
                r
                for r in store.objects.get(obj, {}).values()
                if (all_rows or not r["IsDeleted"]) and all(_match(r, c) for c in conds)
            ]
            for name, desc in reversed(order):
                rows.sort(key=functools.partial(_sort_key, name=name), reverse=desc)
            rows = [dict(r) for r in rows]  # a snapshot, as a query locator is
            locator = f"01g{len(store.cursors) + 1:012d}"
            store.cursors[locator] = (rows, fields, obj)
        return JSONResponse(page(version, locator, 0, batch_size(request), all_rows))

    async def query_more(request: Request) -> Response:
        if (bad := guard(request)) is not None:
            return bad
        locator, _, offset = request.path_params["locator"].rpartition("-")
        if locator not in store.cursors or not offset.isdigit():
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        all_rows = "/queryAll/" in request.url.path
        return JSONResponse(
            page(request.path_params["v"], locator, int(offset), batch_size(request), all_rows)
        )

    async def create(request: Request) -> Response:
        if (bad := guard(request)) is not None:
            return bad
        obj = request.path_params["obj"]
        body = await request.json()
        if obj not in PREFIX or obj == "OpportunityHistory":
            return _error(400, "INVALID_TYPE", f"cannot create {obj}")
        if fixed := READ_ONLY & set(body):
            return _error(400, "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {fixed}")
        missing = [f for f in REQUIRED.get(obj, ()) if not body.get(f)]
        if missing:
            return _error(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}")
        with store.lock:
            store.writes += 1
            rec = store.put(obj, body)
        return JSONResponse({"id": rec["Id"], "success": True, "errors": []}, 201)

    async def one(request: Request) -> Response:
        if (bad := guard(request)) is not None:
            return bad
        obj, rid, version = request.path_params["obj"], request.path_params["rid"], request.path_params["v"]
        rec = store.live(obj, rid)
        if rec is None:
            gone = rid in store.objects.get(obj, {})
            return _error(
                404, "ENTITY_IS_DELETED" if gone else "NOT_FOUND", "The requested resource does not exist"
            )
        if request.method == "DELETE":
            with store.lock:
                store.writes += 1
                store.delete(obj, rid)
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await request.json()
            if fixed := READ_ONLY & set(body):
                return _error(
                    400, "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {fixed}"
                )
            with store.lock:
                store.writes += 1
                store.put(obj, body, rid)
            return Response(status_code=204)
        return JSONResponse(view(obj, rec, sorted(rec), version))

    base = "/services/data/{v}"
    return Starlette(
        routes=[
            Route(f"{base}/query", query, methods=["GET"]),
            Route(f"{base}/query/", query, methods=["GET"]),
            Route(f"{base}/queryAll", query, methods=["GET"]),
            Route(f"{base}/queryAll/", query, methods=["GET"]),
            Route(f"{base}/query/{{locator}}", query_more, methods=["GET"]),
            Route(f"{base}/queryAll/{{locator}}", query_more, methods=["GET"]),
            Route(f"{base}/sobjects/{{obj}}/", create, methods=["POST"]),
            Route(f"{base}/sobjects/{{obj}}", create, methods=["POST"]),
            Route(f"{base}/sobjects/{{obj}}/{{rid}}", one, methods=["GET", "PATCH", "DELETE"]),
        ]
    )


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the certificate is its own CA bundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "salesforce-standin")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Running(hubspot.Running):
    """The stand-in served by uvicorn over TLS on a free loopback port, in a thread (as the
    HubSpot stand-in is); `ca` is the certificate the client trusts."""

    store: Store  # type: ignore[assignment]

    def __init__(self, store: Store) -> None:
        self.store = store
        self.folder = tempfile.TemporaryDirectory(prefix="sf-standin-")
        cert, key = self_signed(Path(self.folder.name))
        self.ca = str(cert)
        config = uvicorn.Config(
            make_app(store),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Running:
        super().__enter__()
        self.url = self.url.replace("http://", "https://", 1)
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.folder.cleanup()
