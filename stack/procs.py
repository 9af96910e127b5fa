"""Background services the local stack starts: detached processes with PID files.

A PID file holds the pid, the command line and the port, so `stop` never signals a process
that merely reused the pid, and `crm down` stops only what `crm up` (or `make demo`) started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class PidRecord:
    name: str
    pid: int
    argv: list[str]
    port: int | None = None
    url: str | None = None
    started_at: float = field(default_factory=time.time)
    extra: dict = field(default_factory=dict)
    start_ticks: int | None = None
    """The process's start time (clock ticks since boot, /proc/<pid>/stat): with the pid it
    names the process even after it exec'd another program, and never a later one reusing the pid."""


def run_dir(home: Path) -> Path:
    d = home / "run"
    d.mkdir(parents=True, exist_ok=True)
    return d


def log_dir(home: Path) -> Path:
    d = home / "logs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def pid_file(home: Path, name: str) -> Path:
    return run_dir(home) / f"{name}.pid"


def read_record(home: Path, name: str) -> PidRecord | None:
    path = pid_file(home, name)
    try:
        return PidRecord(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def write_record(home: Path, rec: PidRecord) -> None:
    path = pid_file(home, rec.name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(rec)))
    tmp.replace(path)


def forget(home: Path, name: str) -> None:
    pid_file(home, name).unlink(missing_ok=True)


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (field 3, the state, comes first)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def is_alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def start_ticks(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def record_alive(rec: PidRecord) -> bool:
    """The recorded process still runs and is the one we started (same start time; records
    without one: same executable)."""
    if not is_alive(rec.pid):
        return False
    if rec.start_ticks is not None:
        return start_ticks(rec.pid) == rec.start_ticks
    argv = cmdline(rec.pid)
    if not argv or not rec.argv:
        return False
    return os.path.basename(argv[0]) == os.path.basename(rec.argv[0]) or rec.argv[0] in argv


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def _reset_signals() -> None:
    # Children of a non-interactive shell may inherit ignored SIGINT/SIGTERM (dagster dev does):
    # reset them so `stop` works.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def spawn(
    home: Path,
    name: str,
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    port: int | None = None,
    url: str | None = None,
    extra: dict | None = None,
    nice: int = 0,
) -> PidRecord:
    """Start `argv` detached (own session, output to .crm/logs/<name>.log) and record it; `nice`
    lowers its priority (and its children's)."""

    def prepare() -> None:
        _reset_signals()
        if nice:
            os.nice(nice)

    log = (log_dir(home) / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,
        preexec_fn=prepare,
    )
    log.close()
    rec = PidRecord(
        name=name,
        pid=proc.pid,
        argv=list(argv),
        port=port,
        url=url,
        extra=extra or {},
        start_ticks=start_ticks(proc.pid),
    )
    write_record(home, rec)
    return rec


def descendants(pid: int) -> list[int]:
    """Every process below `pid` now, whatever its process group or session."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and len(fields) > 1:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if is_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if is_alive(p)]
    return alive


def terminate(pid: int, timeout: float = 15.0, group: bool = True) -> None:
    """SIGTERM (the process group when it leads one), then SIGKILL after `timeout`. With
    `group`, what it started and left behind goes too: a descendant in a session of its own
    (Dagster's code server, which otherwise waits out a 45 s heartbeat) or slow to follow gets
    SIGTERM once the leader is gone, then SIGKILL."""

    def send(sig: int) -> None:
        try:
            if group and os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass

    family = descendants(pid) if group else []
    send(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            break
        time.sleep(0.1)
    else:
        send(signal.SIGKILL)
    left = _wait_gone(family, 2.0)
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 1.0)):
        for p in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, sig)
        left = _wait_gone(left, wait)
    # Reap it if it is our child (tests start services in-process).
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(home: Path, name: str, timeout: float = 15.0) -> bool:
    """Stop a recorded service; True if something was running."""
    rec = read_record(home, name)
    if rec is None:
        return False
    running = record_alive(rec)
    if running:
        terminate(rec.pid, timeout)
    forget(home, name)
    return running


def http_ok(url: str) -> bool:
    """`url` answers 200."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _program(proc: subprocess.Popen) -> str:
    """The program a process runs, for messages (its argv is a list wherever we start one)."""
    args = proc.args
    if isinstance(args, list | tuple) and args:
        return os.fsdecode(args[0])
    return "process"


def wait_http_ok(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    """Until `url` answers 200 (or `proc` exits, or `timeout`)."""

    def ready() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{_program(proc)} exited with {proc.returncode}")
        return http_ok(url)

    wait_until(ready, timeout, url, interval=0.3)
