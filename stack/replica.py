"""A streaming-replication read replica of the embedded Postgres, from the same binaries.

`crm replica up` takes a base backup of the running primary (`pg_basebackup -R`: the standby
signal and the primary's connection written for it), starts it on its own port as a hot
standby and writes `DATABASE_REPLICA_URL` to `.crm/env`. The dashboards and the API's mart reads
then go to it (`crm.settings.Settings.database_replica_url`); writes, sign-in and every record
read stay on the primary. It is the local rehearsal of a production replica: the same settings
point the stack at any standby. `crm down` stops it; `crm replica down` stops and deletes it.
"""

from __future__ import annotations

import shutil

import psycopg

from stack import procs
from stack.postgres import SUPERUSER, EmbeddedPostgres

NAME = "postgres-replica"


class EmbeddedReplica(EmbeddedPostgres):
    name = NAME
    folder = "pg-replica"

    def start_from(self, primary_port: int) -> procs.PidRecord:
        """Start the replica (cloning the primary on first use); reuse a running one."""
        rec = procs.read_record(self.home, self.name)
        if rec and procs.record_alive(rec) and rec.port and procs.port_open(rec.port):
            return rec
        port = self.configured_port()
        if not self.initialised():
            shutil.rmtree(self.data, ignore_errors=True)
            self._run(
                "pg_basebackup",
                *("-h", "127.0.0.1", "-p", str(primary_port), "-U", SUPERUSER),
                *("-D", str(self.data), "-R", "-X", "stream", "-c", "fast"),
                timeout=1800,
            )
            port = None  # the copy carries the primary's port
        if port is None or port == primary_port or procs.port_open(port):
            port = procs.free_port()
            self.set_port(port)
        return self.launch(port)


def lag_bytes(replica_url: str) -> int | None:
    """WAL received but not yet replayed on the replica (None: not a standby)."""
    with psycopg.connect(replica_url, autocommit=True) as conn:
        row = conn.execute(
            "select pg_is_in_recovery(), pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
        ).fetchone()
    if row is None or not row[0]:
        return None
    return int(row[1] or 0)
