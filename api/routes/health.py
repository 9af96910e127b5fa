"""Liveness and readiness (no auth)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: Literal["ok"]
    rate_limit_backend: Literal["redis", "memory"] = Field(
        description="redis: limits shared by every API process; memory: counted per process"
    )


@router.get("/health", response_model=HealthOut)
async def health(request: Request):
    """Answers when the process runs and its database answers."""
    async with request.app.state.db.raw() as conn:
        await conn.execute("SELECT 1")
    return {"status": "ok", "rate_limit_backend": request.app.state.limiter.backend}
