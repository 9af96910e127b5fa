"""A HubSpot stand-in: the CRM v3 objects and v4 associations endpoints (batch read, default
create, archive) the sync's SDK calls use, as HubSpot's API reference describes them (bearer token, `after` paging, search filters on
`hs_lastmodifieddate` and `hs_object_id`, the 10,000-result search window, archived listing),
for companies, contacts, deals, tickets and the engagements (calls, emails, meetings, notes,
tasks: `hs_timestamp` required on create, associated by HubSpot's type ids), with optional
faults: 429 with Retry-After and 500 on a share of the calls, before any change.

Searches read an index by modification time kept per object (rebuilt after a write), so a
stand-in loaded with 100,000s of records answers a page in about the time HubSpot does.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "pat-standin-token"
SEARCH_WINDOW = 10_000
SEARCH_LIMIT = 200
"""The most results a search page holds (HubSpot's documented maximum)."""
ENGAGEMENTS = ("calls", "emails", "meetings", "notes", "tasks")
ASSOCIATION_TO = {
    1: "companies",
    279: "companies",
    5: "companies",
    3: "contacts",
    16: "contacts",
    26: "companies",
    194: "contacts",
    198: "contacts",
    200: "contacts",
    202: "contacts",
    204: "contacts",
    206: "deals",
    210: "deals",
    212: "deals",
    214: "deals",
    216: "deals",
}
"""HubSpot-defined association type id -> the object it points to."""
TYPE_ID = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "tickets": "0-5",
    "calls": "0-48",
    "emails": "0-49",
    "meetings": "0-47",
    "notes": "0-46",
    "tasks": "0-27",
}
"""Object type ids, as association answers name the objects."""


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Store:
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    links: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)  # (from, id, to) -> ids
    clock: datetime = datetime(2025, 3, 1, tzinfo=UTC)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1001))
    calls: int = 0
    writes: int = 0
    faults: int = 0
    fault_every: int = 0  # every n-th call fails (0: none), alternately 429 and 500
    retry_after: str = "0"
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0
    index: dict[str, tuple[int, list[str], list[dict[str, Any]]]] = field(default_factory=dict)

    def tick(self) -> datetime:
        self.clock += timedelta(milliseconds=7)
        return self.clock

    def put(self, obj: str, props: dict[str, Any], oid: str | None = None) -> dict[str, Any]:
        """Create or update a record as HubSpot does: modification time, stage entry times."""
        now = self.tick()
        table = self.objects.setdefault(obj, {})
        oid = oid or str(next(self.ids))
        rec = table.get(oid)
        if rec is None:
            rec = {
                "id": oid,
                "createdAt": iso(now),
                "archived": False,
                "properties": {"createdate": iso(now)},
            }
            table[oid] = rec
        old_stage = rec["properties"].get("dealstage")
        rec["properties"].update({k: v for k, v in props.items()})
        rec["properties"]["hs_object_id"] = oid
        if obj == "deals" and rec["properties"].get("dealstage") != old_stage:
            rec["properties"][f"hs_date_entered_{rec['properties']['dealstage']}"] = iso(now)
        rec["properties"]["hs_lastmodifieddate"] = iso(now)
        rec["updatedAt"] = iso(now)
        self.version += 1
        return rec

    def associate(self, frm: str, fid: str, to: str, tid: str) -> None:
        self.links.setdefault((frm, fid, to), set()).add(tid)
        if frm == "contacts" and to == "companies":
            self.objects["contacts"][fid]["properties"]["associatedcompanyid"] = tid

    def unlink(self, frm: str, fid: str, to: str, tid: str) -> None:
        left = self.links.get((frm, fid, to), set())
        left.discard(tid)
        if frm == "contacts" and to == "companies":
            props = self.objects["contacts"][fid]["properties"]
            props["associatedcompanyid"] = min(left, key=int) if left else None

    def archive(self, obj: str, oid: str) -> None:
        rec = self.objects[obj][oid]
        now = self.tick()
        rec.update(archived=True, archivedAt=iso(now), updatedAt=iso(now))
        self.version += 1

    def by_modified(self, obj: str) -> tuple[list[str], list[dict[str, Any]]]:
        """The live records of `obj` by (modification time, id), and their times (ISO text in
        one format, so it sorts as the times do)."""
        with self.lock:
            cached = self.index.get(obj)
            if cached is None or cached[0] != self.version:
                rows = [r for r in self.objects.get(obj, {}).values() if not r["archived"]]
                rows.sort(key=lambda r: (r["properties"]["hs_lastmodifieddate"], int(r["id"])))
                cached = (self.version, [r["properties"]["hs_lastmodifieddate"] for r in rows], rows)
                self.index[obj] = cached
            return cached[1], cached[2]


def _view(rec: dict[str, Any], props: list[str] | None) -> dict[str, Any]:
    p = rec["properties"]
    shown = {k: p.get(k) for k in props} if props else dict(p)
    shown |= {k: p[k] for k in ("hs_object_id", "createdate", "hs_lastmodifieddate") if k in p}
    out = {k: v for k, v in rec.items() if k != "properties"} | {"properties": shown}
    return out


def _error(status: int, message: str, category: str) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message, "category": category}, status)


def make_app(store: Store) -> Starlette:
    def guard(request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return _error(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
        with store.lock:
            store.calls += 1
            if store.fault_every and store.calls % store.fault_every == 0:
                store.faults += 1
                if store.faults % 2:
                    return JSONResponse(
                        {
                            "status": "error",
                            "message": "You have reached your secondly limit.",
                            "category": "RATE_LIMITS",
                        },
                        429,
                        headers={"Retry-After": store.retry_after},
                    )
                return _error(500, "internal error", "INTERNAL_ERROR")
        return None

    def _live(obj: str) -> list[dict[str, Any]]:
        return [r for r in store.objects.get(obj, {}).values() if not r["archived"]]

    async def search(request: Request) -> Response:
        if (bad := guard(request)) is not None:
            return bad
        obj = request.path_params["obj"]
        body = await request.json()
        times, rows = store.by_modified(obj)
        for group in body.get("filterGroups") or []:
            for f in group.get("filters") or []:
                name, op = f["propertyName"], f["operator"]
                if name == "hs_lastmodifieddate" and op in ("GTE", "GT", "LTE"):
                    ms = int(f["value"])
                    at = iso(datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000))
                    if op == "LTE":
                        cut = bisect.bisect_right(times, at)
                        times, rows = times[:cut], rows[:cut]
                    else:
                        cut = (bisect.bisect_left if op == "GTE" else bisect.bisect_right)(times, at)
                        times, rows = times[cut:], rows[cut:]
                elif name == "hs_object_id" and op == "IN":
                    wanted = set(f["values"])
                    kept = [(t, r) for t, r in zip(times, rows, strict=True) if r["id"] in wanted]
                    times, rows = [t for t, _ in kept], [r for _, r in kept]
                else:
                    return _error(400, f"filter {name} {op} not supported", "VALIDATION_ERROR")
        limit = min(int(body.get("limit") or 10), SEARCH_LIMIT)
        after = int(body.get("after") or 0)
        if after + limit > SEARCH_WINDOW:
            return _error(400, "search results are limited to 10,000", "VALIDATION_ERROR")
        page = rows[after : after + limit]
        out: dict[str, Any] = {
            "total": len(rows),
            "results": [_view(r, body.get("properties")) for r in page],
        }
        if after + limit < len(rows):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return JSONResponse(out)

    async def objects(request: Request) -> Response:
        if (bad := guard(request)) is not None:
            return bad
        obj = request.path_params["obj"]
        if request.method == "POST":
            body = await request.json()
            with store.lock:
                store.writes += 1
                email = body["properties"].get("email")
                if (
                    obj == "contacts"
                    and email
                    and any(r["properties"].get("email") == email for r in _live(obj))
                ):
                    return _error(409, f"Contact already exists. Existing ID: {email}", "CONFLICT")
                if obj in ENGAGEMENTS and not body["properties"].get("hs_timestamp"):
                    return _error(
                        400, "Property values were not valid: hs_timestamp is required", "VALIDATION_ERROR"
                    )
                links = [
                    (a["types"][0]["associationTypeId"], str(a["to"]["id"]))
                    for a in body.get("associations") or []
                ]
                if any(t not in ASSOCIATION_TO for t, _ in links):
                    return _error(400, "Invalid association type", "VALIDATION_ERROR")
                rec = store.put(obj, body["properties"])
                for t, to_id in links:
                    store.associate(obj, rec["id"], ASSOCIATION_TO[t], to_id)
            return JSONResponse(_view(rec, None), 201)
        archived = (request.query_params.get("archived") or "").lower() == "true"
        rows = [r for r in store.objects.get(obj, {}).values() if r["archived"] == archived]
        rows.sort(key=lambda r: int(r["id"]))
        limit = min(int(request.query_params.get("limit") or 10), 100)
        after = int(request.query_params.get("after") or 0)
        props = request.query_params.getlist("properties")
        out: dict[str, Any] = {"results": [_view(r, props) for r in rows[after : after + limit]]}
        if after + limit < len(rows):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return JSONResponse(out)

    async def one(request: Request) -> Response:
        if (bad := guard(request)) is not None:
            return bad
        obj, oid = request.path_params["obj"], request.path_params["oid"]
        rec = store.objects.get(obj, {}).get(oid)
        if rec is None or rec["archived"]:
            return _error(404, "Object not found", "OBJECT_NOT_FOUND")
        if request.method == "DELETE":
            with store.lock:
                store.writes += 1
                store.archive(obj, oid)
            return Response(status_code=204)
        if request.method == "PATCH":
            body = await request.json()
            with store.lock:
                store.writes += 1
                rec = store.put(obj, body["properties"], oid)
        return JSONResponse(_view(rec, request.query_params.getlist("properties") or None))

    async def association_read(request: Request) -> Response:
        if (bad := guard(request)) is not None:
            return bad
        frm, to = request.path_params["frm"], request.path_params["to"]
        body = await request.json()
        results = []
        for item in body["inputs"]:
            ids = sorted(store.links.get((frm, str(item["id"]), to), set()), key=int)
            if ids:
                results.append(
                    {
                        "from": {"id": str(item["id"])},
                        "to": [
                            {
                                "toObjectId": int(i),
                                "associationTypes": [
                                    {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": None}
                                ],
                            }
                            for i in ids
                        ],
                    }
                )
        now = iso(datetime.now(UTC))
        return JSONResponse({"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now})

    def _pair(request: Request) -> tuple[str, str, str, str] | Response:
        p = request.path_params
        frm, fid, to, tid = p["frm"], p["fid"], p["to"], p["tid"]
        for obj, oid in ((frm, fid), (to, tid)):
            rec = store.objects.get(obj, {}).get(oid)
            if rec is None or rec["archived"]:
                return _error(404, f"No {obj} with id {oid} exists", "OBJECT_NOT_FOUND")
        return frm, fid, to, tid

    async def association_default(request: Request) -> Response:
        """PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{id}: the default
        (primary) association between two records; repeating it changes nothing."""
        if (bad := guard(request)) is not None:
            return bad
        pair = _pair(request)
        if isinstance(pair, Response):
            return pair
        frm, fid, to, tid = pair
        with store.lock:
            store.writes += 1
            store.associate(frm, fid, to, tid)
        now = iso(datetime.now(UTC))
        spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}
        result = {
            "fromObjectTypeId": TYPE_ID[frm],
            "fromObjectId": int(fid),
            "toObjectTypeId": TYPE_ID[to],
            "toObjectId": int(tid),
            "associationSpec": spec,
        }
        return JSONResponse({"status": "COMPLETE", "results": [result], "startedAt": now, "completedAt": now})

    async def association_archive(request: Request) -> Response:
        """DELETE /crm/v4/objects/{from}/{id}/associations/{to}/{id}: every association
        between the two records removed (204, also when there was none)."""
        if (bad := guard(request)) is not None:
            return bad
        pair = _pair(request)
        if isinstance(pair, Response):
            return pair
        with store.lock:
            store.writes += 1
            store.unlink(*pair)
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/crm/v3/objects/{obj}/search", search, methods=["POST"]),
            Route("/crm/v3/objects/{obj}", objects, methods=["GET", "POST"]),
            Route("/crm/v3/objects/{obj}/{oid}", one, methods=["GET", "PATCH", "DELETE"]),
            Route("/crm/v4/associations/{frm}/{to}/batch/read", association_read, methods=["POST"]),
            Route(
                "/crm/v4/objects/{frm}/{fid}/associations/default/{to}/{tid}",
                association_default,
                methods=["PUT"],
            ),
            Route(
                "/crm/v4/objects/{frm}/{fid}/associations/{to}/{tid}", association_archive, methods=["DELETE"]
            ),
        ]
    )


class Running:
    """The stand-in served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        config = uvicorn.Config(
            make_app(store), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        while not self.server.started:
            threading.Event().wait(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
