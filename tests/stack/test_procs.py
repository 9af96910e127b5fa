"""Detached services: a service started with a priority runs (with its children) at it, and the
others at the caller's."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil

from stack import procs
from stack.services import SERVICES

CHILD = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"
DETACHED = (
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
    " start_new_session=True); time.sleep(60)"
)


def _children(pid: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        kids = psutil.Process(pid).children()
        if kids:
            return kids
        time.sleep(0.1)
    raise TimeoutError("the child process did not start")


def test_a_niced_service_and_its_children_run_at_its_priority(tmp_path: Path) -> None:
    base = os.nice(0)
    batch = procs.spawn(tmp_path, "batch", [sys.executable, "-c", CHILD], nice=7)
    plain = procs.spawn(tmp_path, "plain", [sys.executable, "-c", CHILD])
    try:
        assert psutil.Process(batch.pid).nice() == base + 7
        assert [c.nice() for c in _children(batch.pid)] == [base + 7]
        assert psutil.Process(plain.pid).nice() == base
    finally:
        procs.terminate(batch.pid, timeout=5)
        procs.terminate(plain.pid, timeout=5)


def test_dagster_is_the_batch_service() -> None:
    assert SERVICES["dagster"].nice > 0
    assert all(s.nice == 0 for name, s in SERVICES.items() if name != "dagster")


def test_stopping_a_service_stops_what_it_started_in_a_session_of_its_own(tmp_path: Path) -> None:
    """As Dagster's code server: started by the service in its own session, out of reach of the
    service's process group, it would outlive `crm down`."""
    rec = procs.spawn(tmp_path, "leader", [sys.executable, "-c", DETACHED])
    [child] = _children(rec.pid)
    assert os.getsid(child.pid) != os.getsid(rec.pid)
    procs.terminate(rec.pid, timeout=5)
    assert not procs.is_alive(rec.pid)
    assert not procs.is_alive(child.pid)
