"""The model registry: `ml.model_versions` rows plus artifacts under CRM_HOME/models.

Lifecycle: train -> `register` (status candidate) -> `gate` (it must beat the baseline and the
active model on the candidate's holdout, else `reject`) -> `promote` (`ml.training` runs these
steps) -> `rollback` (active -> retired, the previously active one back). One active version per
(tenant, model name) is enforced by a partial unique index. Artifacts are joblib pickles
written by this code only; a missing or unreadable artifact raises
SCORING_SERVICE_UNAVAILABLE so callers fall back to rules.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import orjson
import psycopg

from crm.db import connect
from crm.errors import CRMError, CRMErrorCode
from crm.settings import get_settings
from ml.store import fetch_one

log = logging.getLogger(__name__)


@dataclass
class Version:
    id: int
    tenant_id: str
    name: str
    version: int
    status: str
    trained_at: datetime
    metrics: dict
    params: dict
    artifact_path: str | None
    reason: str | None
    promoted_at: datetime | None

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


COLUMNS = "id, tenant_id::text, name, version, status, trained_at, metrics, params, artifact_path, reason, promoted_at"


def models_dir() -> Path:
    return get_settings().home / "models"


def _row(r: tuple) -> Version:
    return Version(*r)


def register(
    url: str | None,
    tenant_id: str,
    name: str,
    artifact: Any,
    metrics: dict,
    params: dict,
    window: tuple[datetime | None, datetime | None],
    trained_at: datetime | None = None,
) -> Version:
    """Save the artifact and insert a candidate version (next version number for the tenant)."""
    trained_at = trained_at or datetime.now(UTC)
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ml:{tenant_id}:{name}",))
        cur = conn.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM ml.model_versions WHERE tenant_id = %s AND name = %s",
            (tenant_id, name),
        )
        nxt = fetch_one(cur, f"next version of {name}")[0]
        path = models_dir() / tenant_id / name / f"v{nxt}.joblib"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        joblib.dump(artifact, tmp)
        tmp.replace(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        params = {**params, "artifact_sha256": digest}
        cur = conn.execute(
            "INSERT INTO ml.model_versions (tenant_id, name, version, trained_at, data_window_start, data_window_end,"
            " params, metrics, status, artifact_path) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,'candidate',%s)"
            f" RETURNING {COLUMNS}",
            (
                tenant_id,
                name,
                nxt,
                trained_at,
                window[0],
                window[1],
                orjson.dumps(params, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                orjson.dumps(metrics, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                str(path),
            ),
        )
        row = fetch_one(cur, f"registering {name}@{nxt}")
    return _row(row)


def get(
    url: str | None, tenant_id: str, name: str, version: int | None = None, status: str | None = None
) -> Version | None:
    q = f"SELECT {COLUMNS} FROM ml.model_versions WHERE tenant_id = %s AND name = %s"
    args: list = [tenant_id, name]
    if version is not None:
        q += " AND version = %s"
        args.append(version)
    if status is not None:
        q += " AND status = %s"
        args.append(status)
    q += " ORDER BY version DESC LIMIT 1"
    with connect(url) as conn:
        r = conn.execute(q, args).fetchone()
    return _row(r) if r else None


def active(url: str | None, tenant_id: str, name: str) -> Version | None:
    return get(url, tenant_id, name, status="active")


def list_versions(url: str | None, tenant_id: str | None = None, name: str | None = None) -> list[Version]:
    q = f"SELECT {COLUMNS} FROM ml.model_versions WHERE true"
    args: list = []
    if tenant_id:
        q += " AND tenant_id = %s"
        args.append(tenant_id)
    if name:
        q += " AND name = %s"
        args.append(name)
    q += " ORDER BY tenant_id, name, version"
    with connect(url) as conn:
        return [_row(r) for r in conn.execute(q, args).fetchall()]


def load(v: Version) -> Any:
    """The artifact of a version; SCORING_SERVICE_UNAVAILABLE when missing, altered or unreadable."""
    ctx = {"model": v.label, "path": v.artifact_path}
    try:
        data = Path(v.artifact_path or "").read_bytes()
        want = v.params.get("artifact_sha256")
        if want and hashlib.sha256(data).hexdigest() != want:
            raise ValueError("artifact checksum does not match the registry")
        return joblib.load(v.artifact_path)
    except Exception as exc:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE, f"cannot load {v.label}: {exc}", ctx
        ) from exc


def load_active(url: str | None, tenant_id: str, name: str) -> tuple[Any, Version]:
    v = active(url, tenant_id, name)
    if v is None:
        raise CRMError(
            CRMErrorCode.SCORING_SERVICE_UNAVAILABLE,
            f"no active {name} model for tenant {tenant_id}",
            {"tenant_id": tenant_id, "model": name},
        )
    return load(v), v


def gate(
    candidate: float, active_score: float | None, baseline: float | None, higher_is_better: bool = True
) -> tuple[bool, str]:
    """The promotion rule: strictly better than the active model and the baseline on the holdout."""

    def better(a: float, b: float) -> bool:
        return a > b if higher_is_better else a < b

    if baseline is not None and not better(candidate, baseline):
        return False, f"candidate {candidate:.4f} does not beat the baseline {baseline:.4f}"
    if active_score is not None and not better(candidate, active_score):
        return False, f"candidate {candidate:.4f} does not beat the active model {active_score:.4f}"
    return True, f"candidate {candidate:.4f} beats baseline {baseline} and active {active_score}"


def _set_status(conn: psycopg.Connection, vid: int, status: str, reason: str | None = None) -> None:
    conn.execute(
        "UPDATE ml.model_versions SET status = %s, reason = coalesce(%s, reason),"
        " promoted_at = CASE WHEN %s = 'active' THEN now() ELSE promoted_at END WHERE id = %s",
        (status, reason, status, vid),
    )


def promote(url: str | None, tenant_id: str, name: str, version: int, reason: str = "promoted") -> Version:
    """Make `version` active (the current active one is retired), unconditionally: the gate is
    applied before (`ml.training`); called alone, this is the operator's override (`crm models
    promote`)."""
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ml:{tenant_id}:{name}",))
        target = conn.execute(
            "SELECT id FROM ml.model_versions WHERE tenant_id = %s AND name = %s AND version = %s",
            (tenant_id, name, version),
        ).fetchone()
        if target is None:
            raise CRMError(CRMErrorCode.MODEL_NOT_FOUND, f"{name}@{version} not found for tenant {tenant_id}")
        conn.execute(
            "UPDATE ml.model_versions SET status = 'retired' WHERE tenant_id = %s AND name = %s AND status = 'active'",
            (tenant_id, name),
        )
        _set_status(conn, target[0], "active", reason)
    v = get(url, tenant_id, name, version)
    assert v is not None
    return v


def reject(url: str | None, v: Version, reason: str) -> None:
    with connect(url) as conn:
        _set_status(conn, v.id, "rejected", reason)


def rollback(url: str | None, tenant_id: str, name: str) -> Version | None:
    """Retire the active version and bring back the most recently active one before it.
    Returns the version now active (None when there was nothing to go back to)."""
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ml:{tenant_id}:{name}",))
        cur = conn.execute(
            "SELECT id, version FROM ml.model_versions WHERE tenant_id = %s AND name = %s AND status = 'active'",
            (tenant_id, name),
        ).fetchone()
        if cur is None:
            raise CRMError(CRMErrorCode.MODEL_NOT_FOUND, f"no active {name} model for tenant {tenant_id}")
        prev = conn.execute(
            "SELECT id, version FROM ml.model_versions WHERE tenant_id = %s AND name = %s AND status = 'retired'"
            " AND promoted_at IS NOT NULL AND version <> %s ORDER BY promoted_at DESC, version DESC LIMIT 1",
            (tenant_id, name, cur[1]),
        ).fetchone()
        _set_status(conn, cur[0], "retired", "rolled back")
        if prev is None:
            return None
        _set_status(conn, prev[0], "active", f"restored by rollback of v{cur[1]}")
        version = prev[1]
    return get(url, tenant_id, name, version)


def to_dict(v: Version) -> dict:
    return {
        "tenant_id": v.tenant_id,
        "name": v.name,
        "version": v.version,
        "status": v.status,
        "trained_at": v.trained_at.isoformat(),
        "metrics": v.metrics,
        "reason": v.reason,
    }
