"""Prometheus metrics (no auth, not in the OpenAPI document): see api.core.metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.core.metrics import render

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(await render(request.app.state.db), media_type="text/plain; version=0.0.4; charset=utf-8")
