"""Liveness and readiness (no auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(request: Request):
    """Answers when the process runs and its database answers."""
    async with request.app.state.db.raw() as conn:
        await conn.execute("SELECT 1")
    return {"status": "ok", "rate_limit_backend": request.app.state.limiter.backend}
