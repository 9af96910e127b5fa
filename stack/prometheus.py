"""The local monitoring: Prometheus, Alertmanager and two exporters, beside the stores.

`crm up` starts them (Debian's binaries, `make monitoring`) unless PROMETHEUS_URL names a
Prometheus to use: Alertmanager, the postgres exporter (the stack's database), the node
exporter (disk only: the filesystems holding the stack's state), then Prometheus, loading the
alert rules of `monitoring/prometheus/rules/` and sending to that Alertmanager. Config and data
live under `.crm/prometheus` and `.crm/alertmanager`; ports are the usual ones when free.

Prometheus finds what to scrape in `.crm/prometheus/targets/<job>.json` (file-based service
discovery, re-read within seconds): `stack.services.start` writes one for each service with a
`metrics_path`, this module one for each of its own, and `crm down` removes them with the
processes, so a stopped service is gone from the targets rather than down.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from crm.db import libpq_url
from crm.settings import PROJECT_ROOT
from stack import procs

PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
PG_EXPORTER = "postgres-exporter"
NODE_EXPORTER = "node-exporter"
NAMES = (PROMETHEUS, ALERTMANAGER, PG_EXPORTER, NODE_EXPORTER)
"""Every process of the local monitoring (stopped by `crm down` after Prometheus)."""

RULES_DIR = PROJECT_ROOT / "monitoring" / "prometheus" / "rules"
RULE_TESTS_DIR = PROJECT_ROOT / "monitoring" / "prometheus" / "tests"
SCRAPE_INTERVAL = "5s"
"""Locally every 5 s (a production Prometheus scrapes every 15 s; the rules hold for both)."""
DATA_VOLUME = "crm-data"
"""`volume` label of the node exporter's series for the filesystems holding the stack's state."""
_NODE_FS_EXCLUDE = (
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660"
    "|mqueue|nsfs|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$"
)
"""The node exporter's default minus `overlay`: a container's root filesystem counts."""


@dataclass(frozen=True)
class Program:
    name: str
    binaries: tuple[str, ...]
    """Debian's name first, then upstream's."""
    port: int
    """Preferred (the usual one), else any free port."""
    ready_path: str


PROGRAMS = {
    p.name: p
    for p in (
        Program(PROMETHEUS, ("prometheus",), 9090, "/-/ready"),
        Program(ALERTMANAGER, ("prometheus-alertmanager", "alertmanager"), 9093, "/-/ready"),
        Program(PG_EXPORTER, ("prometheus-postgres-exporter", "postgres_exporter"), 9187, "/metrics"),
        Program(NODE_EXPORTER, ("prometheus-node-exporter", "node_exporter"), 9100, "/metrics"),
    )
}


@dataclass
class Monitoring:
    prometheus_url: str
    alertmanager_url: str


def binary(name: str) -> str | None:
    return next((found for b in PROGRAMS[name].binaries if (found := shutil.which(b))), None)


def missing() -> list[str]:
    """Programs not installed (`make monitoring` installs them)."""
    return [name for name in NAMES if binary(name) is None]


def _http(port: int) -> str:
    return f"http://127.0.0.1:{port}"


# --- file-based service discovery --------------------------------------------------------------


def targets_dir(home: Path) -> Path:
    return home / "prometheus" / "targets"


def write_target(home: Path, job: str, port: int, metrics_path: str = "/metrics") -> None:
    """Have Prometheus scrape `127.0.0.1:<port><metrics_path>` as job `job`."""
    group = [{"targets": [f"127.0.0.1:{port}"], "labels": {"job": job, "__metrics_path__": metrics_path}}]
    path = targets_dir(home) / f"{job}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(group, indent=1) + "\n")
    tmp.replace(path)


def remove_targets(home: Path, jobs: Iterable[str]) -> None:
    for job in jobs:
        (targets_dir(home) / f"{job}.json").unlink(missing_ok=True)


def prune_targets(home: Path) -> None:
    """Drop the targets of jobs that no longer run (a crash, a machine restart)."""
    if targets_dir(home).exists():
        for path in targets_dir(home).glob("*.json"):
            rec = procs.read_record(home, path.stem)
            if rec is None or not procs.record_alive(rec):
                path.unlink(missing_ok=True)


# --- configuration -------------------------------------------------------------------------------


def _mount_point(path: Path) -> str:
    p = path.resolve()
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return str(p)


def _re2_literal(text: str) -> str:
    return "".join("\\" + c if c in r"\.^$|?*+()[]{}" else c for c in text)


def prometheus_config(home: Path, alertmanager: str, data_paths: Iterable[Path]) -> dict:
    """prometheus.yml of the local stack: one file-discovered job per target file, the alert
    rules, the Alertmanager; the node exporter's filesystems holding `data_paths` get the
    label volume="crm-data" that the disk alerts select."""
    mounts = sorted({_mount_point(p) for p in data_paths})
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(RULES_DIR / "*.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {
                "job_name": "crm",
                "file_sd_configs": [{"files": [str(targets_dir(home) / "*.json")], "refresh_interval": "5s"}],
                "metric_relabel_configs": [
                    {
                        "source_labels": ["job", "mountpoint"],
                        "regex": f"{NODE_EXPORTER};({'|'.join(_re2_literal(m) for m in mounts)})",
                        "target_label": "volume",
                        "replacement": DATA_VOLUME,
                    }
                ],
            }
        ],
    }


def alertmanager_config() -> dict:
    """Alerts grouped per alert and job; delivered to ALERT_WEBHOOK_URL when set, else only
    listed by Alertmanager (its UI and /api/v2/alerts)."""
    receiver: dict = {"name": "default"}
    webhook = os.environ.get("ALERT_WEBHOOK_URL")
    if webhook:
        receiver["webhook_configs"] = [{"url": webhook, "send_resolved": True}]
    return {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "job"],
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": "4h",
        },
        "receivers": [receiver],
    }


def _write_yaml(path: Path, config: dict) -> bool:
    """Write `config`; True when the file changed."""
    body = "# written by `crm up`\n" + yaml.safe_dump(config, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == body:
        return False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body)
    tmp.replace(path)
    return True


def config_path(home: Path) -> Path:
    return home / "prometheus" / "prometheus.yml"


# --- processes ---------------------------------------------------------------------------------


def _run(
    home: Path, name: str, flags: Callable[[int], list[str]], env: dict[str, str] | None = None
) -> tuple[procs.PidRecord, bool]:
    """Start `name` listening on loopback with `flags(port)` (or reuse ours), wait until it
    answers, make it a scrape target. (record, started now)."""
    program = PROGRAMS[name]
    rec = procs.read_record(home, name)
    if rec is not None and procs.record_alive(rec) and rec.port is not None:
        write_target(home, name, rec.port)
        return rec, False
    procs.forget(home, name)
    port = program.port if not procs.port_open(program.port) else procs.free_port()
    argv = [str(binary(name)), f"--web.listen-address=127.0.0.1:{port}", *flags(port)]
    rec = procs.spawn(
        home, name, argv, env={**os.environ, **(env or {})}, cwd=home, port=port, url=_http(port)
    )

    def ready() -> bool:
        if not procs.is_alive(rec.pid):
            raise RuntimeError(f"{name} exited: see {procs.log_dir(home) / (name + '.log')}")
        return procs.http_ok(_http(port) + program.ready_path)

    try:
        procs.wait_until(ready, 30, name, 0.2)
    except BaseException:
        procs.stop(home, name)
        raise
    write_target(home, name, port)
    return rec, True


def _dsn(database_url: str) -> str:
    """The exporter's DATA_SOURCE_NAME (lib/pq wants SSL unless told otherwise)."""
    url = libpq_url(database_url)
    return url if "sslmode=" in url else url + ("&" if "?" in url else "?") + "sslmode=disable"


def start(home: Path, database_url: str, data_paths: Iterable[Path] = ()) -> Monitoring:
    """Start (or reuse) the four programs and write their targets; raise if one is missing."""
    absent = missing()
    if absent:
        raise RuntimeError(f"not installed: {', '.join(absent)} (make monitoring)")
    prom_dir, am_dir = home / "prometheus", home / "alertmanager"

    _write_yaml(am_dir / "alertmanager.yml", alertmanager_config())
    am, _ = _run(
        home,
        ALERTMANAGER,
        lambda p: [
            f"--config.file={am_dir / 'alertmanager.yml'}",
            f"--storage.path={am_dir / 'data'}",
            f"--web.external-url={_http(p)}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ],
    )
    _run(home, PG_EXPORTER, lambda p: [], env={"DATA_SOURCE_NAME": _dsn(database_url)})
    # disk only: the filesystems holding the stack's state (labelled in prometheus_config)
    _run(
        home,
        NODE_EXPORTER,
        lambda p: [
            "--collector.disable-defaults",
            "--collector.filesystem",
            f"--collector.filesystem.fs-types-exclude={_NODE_FS_EXCLUDE}",
        ],
    )
    changed = _write_yaml(
        config_path(home), prometheus_config(home, f"127.0.0.1:{_port(am)}", [home, *data_paths])
    )
    prom, new = _run(
        home,
        PROMETHEUS,
        lambda p: [
            f"--config.file={config_path(home)}",
            f"--storage.tsdb.path={prom_dir / 'data'}",
            "--storage.tsdb.retention.time=7d",
            f"--web.external-url={_http(p)}",
            "--web.enable-lifecycle",  # POST /-/reload after `crm up` rewrote the config
        ],
    )
    if changed and not new:
        reload(_http(_port(prom)))
    return Monitoring(_http(_port(prom)), _http(_port(am)))


def _port(rec: procs.PidRecord) -> int:
    if rec.port is None:
        raise RuntimeError(f"{rec.name} (pid {rec.pid}) recorded no port")
    return rec.port


def reload(prometheus_url: str) -> None:
    """Have Prometheus re-read its configuration and rules."""
    import urllib.request

    request = urllib.request.Request(f"{prometheus_url}/-/reload", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
