"""The tenants' active models, loaded once per API process: every on-demand score asks the
registry (under the caller's tenant) which version is active and loads it only when that
changed, so a promotion or a rollback takes effect on the next request and a score costs no
artifact read. A version whose artifact cannot load is retried after `RETRY_S`; meanwhile the
rules answer and say why."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

from api.core.db import Conn, fetchone
from crm.errors import CRMError
from ml import registry
from ml.registry import Version
from ml.service import Active
from ml.specs import ModelSpec

RETRY_S = 60.0


class ActiveModels:
    def __init__(self) -> None:
        self._loaded: dict[tuple[UUID, str], tuple[int, Any]] = {}
        self._failed: dict[int, tuple[str, float]] = {}

    async def get(self, conn: Conn, spec: ModelSpec, tenant: UUID) -> Active:
        row = await fetchone(
            conn,
            f"SELECT {registry.COLUMNS} FROM ml.model_versions"
            " WHERE tenant_id = %s AND name = %s AND status = 'active'",
            (tenant, spec.name),
        )
        if row is None:
            return Active(None, None, f"no active {spec.name} model for tenant {tenant}")
        v = Version(**row)
        held = self._loaded.get((tenant, spec.name))
        if held is not None and held[0] == v.id:
            return Active(held[1], v, None)
        failed = self._failed.get(v.id)
        if failed is not None and time.monotonic() - failed[1] < RETRY_S:
            return Active(None, None, failed[0])
        try:
            model = await asyncio.to_thread(registry.load, v)
        except CRMError as exc:
            self._failed[v.id] = (exc.message, time.monotonic())
            return Active(None, None, exc.message)
        self._failed.pop(v.id, None)
        self._loaded[(tenant, spec.name)] = (v.id, model)
        return Active(model, v, None)
