"""The local stack and the `crm` command line: `crm up | down | status`, the demo.

`up` starts what the environment does not provide (embedded Postgres when DATABASE_URL is
unset, Tansu when KAFKA_BOOTSTRAP is unset, Redis when REDIS_URL is unset, Prometheus with its
Alertmanager and exporters when PROMETHEUS_URL is unset: `stack.prometheus`), writes the
addresses to `.crm/env` and keeps a PID file per process. `down` stops every process that has
a PID file under `.crm/run` (only ever things the project started) and nothing else.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from stack import kafka, procs, prometheus, redis
from stack.postgres import EmbeddedPostgres

# Stopped in this order: Prometheus first (no alert for what `down` stops), consumers of the
# stores next, the exporters before what they read.
STOP_ORDER = [
    prometheus.PROMETHEUS,
    prometheus.ALERTMANAGER,
    "app",
    "api",
    "ops-metrics",
    "dagster",
    "outbox-relay",
    "lander",
    prometheus.PG_EXPORTER,
    prometheus.NODE_EXPORTER,
    kafka.NAME,
    redis.NAME,
    "postgres-replica",
    "postgres",
]


@dataclass
class StackState:
    database_url: str
    kafka_bootstrap: str
    redis_url: str = ""
    prometheus_url: str = ""
    alertmanager_url: str = ""
    started: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Warnings for the user (monitoring not installed)."""


def read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = read_env_file(path) | values
    body = "# written by `crm up`; the environment overrides these\n"
    body += "".join(f"{k}={v}\n" for k, v in sorted(merged.items()))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _address(rec: procs.PidRecord) -> str:
    """The address a service we start records (its PID record without one is a bug)."""
    if rec.url is None:
        raise RuntimeError(f"{rec.name} (pid {rec.pid}) recorded no address")
    return rec.url


def up(home: Path) -> StackState:
    """Start what is missing; reuse what runs; write `.crm/env`."""
    home.mkdir(parents=True, exist_ok=True)
    env_path = home / "env"
    values: dict[str, str] = {}
    started: list[str] = []
    external: list[str] = []

    db_url = os.environ.get("DATABASE_URL")
    if db_url:
        external.append("postgres")
    else:
        db_url = values["DATABASE_URL"] = _address(EmbeddedPostgres(home).start())
        started.append("postgres")

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
    if bootstrap:
        external.append("kafka")
    else:
        bootstrap = values["KAFKA_BOOTSTRAP"] = _address(kafka.start(home))
        started.append("kafka")

    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        external.append("redis")
    else:
        redis_url = values["REDIS_URL"] = _address(redis.start(home))
        started.append("redis")

    prom_url, am_url, notes = _monitoring(home, db_url, values, started, external)

    existing = read_env_file(env_path)
    for secret in ("JWT_SECRET", "TENANT_CONTEXT_KEY"):
        if not os.environ.get(secret) and secret not in existing:
            values[secret] = secrets.token_urlsafe(48)
    if not os.environ.get("CRM_MASTER_KEY") and "CRM_MASTER_KEY" not in existing:
        from crm.secrets import new_key

        # wraps the tenants' data keys (crm.keys); a KMS holds it in production
        values["CRM_MASTER_KEY"], values["CRM_MASTER_KEY_ID"] = new_key(), "local-1"
    write_env_file(env_path, values)
    from crm.settings import get_settings

    get_settings.cache_clear()
    return StackState(
        database_url=db_url,
        kafka_bootstrap=bootstrap,
        redis_url=redis_url,
        prometheus_url=prom_url,
        alertmanager_url=am_url,
        started=started,
        external=external,
        notes=notes,
    )


def _monitoring(
    home: Path, db_url: str, values: dict[str, str], started: list[str], external: list[str]
) -> tuple[str, str, list[str]]:
    """PROMETHEUS_URL (and ALERTMANAGER_URL) from the environment, else the local monitoring
    (`stack.prometheus`), else nothing and a note saying how to get it."""
    given = os.environ.get("PROMETHEUS_URL")
    if given:
        external.append("prometheus")
        return given, os.environ.get("ALERTMANAGER_URL", ""), []
    prometheus.prune_targets(home)
    absent = prometheus.missing()
    if absent:
        return "", "", [f"monitoring not started: {', '.join(absent)} missing (make monitoring)"]
    mon = prometheus.start(home, db_url, [EmbeddedPostgres(home).data] if "postgres" in started else [])
    values["PROMETHEUS_URL"], values["ALERTMANAGER_URL"] = mon.prometheus_url, mon.alertmanager_url
    started += prometheus.NAMES
    return mon.prometheus_url, mon.alertmanager_url, []


def down(home: Path) -> list[str]:
    """Stop everything with a PID file under `.crm/run`; return the names stopped."""
    stopped: list[str] = []
    names = {p.stem for p in (home / "run").glob("*.pid")} if (home / "run").exists() else set()
    ordered = [n for n in STOP_ORDER if n in names] + sorted(names - set(STOP_ORDER))
    for name in ordered:
        if name == "postgres":
            ok = EmbeddedPostgres(home).stop()
        elif name == "postgres-replica":
            from stack.replica import EmbeddedReplica

            ok = EmbeddedReplica(home).stop()
        else:
            ok = procs.stop(home, name)
        if ok:
            stopped.append(name)
    prometheus.remove_targets(home, names)
    return stopped


def purge(home: Path) -> None:
    """Stop everything, then delete the local state (and the Postgres data kept outside it)."""
    import shutil

    from stack.replica import EmbeddedReplica

    down(home)
    EmbeddedReplica(home).destroy()
    EmbeddedPostgres(home).destroy()
    shutil.rmtree(home, ignore_errors=True)


def status(home: Path) -> list[tuple[procs.PidRecord, bool]]:
    """Every recorded service with whether it is alive."""
    rows = []
    run = home / "run"
    if run.exists():
        for p in sorted(run.glob("*.pid")):
            rec = procs.read_record(home, p.stem)
            if rec:
                rows.append((rec, procs.record_alive(rec)))
    return rows
