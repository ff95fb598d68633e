"""Scheduled jobs that run once per period, however many replicas tick.

Every replica's timer fires; the first to claim the period's slot in PostgreSQL
runs the job and the others skip it. A slot is claimed before the job runs, so a
replica that dies mid-job leaves the rest to the next period: jobs are sweeps
that pick up whatever is still due.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from psycopg import sql
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

JOB_RUNS = Counter(
    "scheduled_job_runs_total",
    "Scheduled job ticks, by whether this replica ran the period or another had.",
    ["job", "outcome"],
)

KEEP_RUNS = timedelta(days=30)


def replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ScheduledJobs:
    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self.replica = replica_name()

    def setup(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {schema}.job_runs ("
                    " job text NOT NULL, slot timestamptz NOT NULL,"
                    " replica text NOT NULL, started_at timestamptz NOT NULL"
                    " DEFAULT now(), PRIMARY KEY (job, slot))"
                )
            )

    def claim(self, job: str, every: timedelta, now: datetime | None = None) -> bool:
        """True if this replica is the one to run `job` for the current period."""
        now = now or datetime.now(UTC)
        period = every.total_seconds()
        slot = datetime.fromtimestamp(now.timestamp() // period * period, UTC)
        with self.pool.connection() as conn:
            claimed = conn.execute(
                self._sql(
                    "INSERT INTO {schema}.job_runs (job, slot, replica) "
                    "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING slot"
                ),
                (job, slot, self.replica),
            ).fetchone()
            if claimed:
                conn.execute(
                    self._sql(
                        "DELETE FROM {schema}.job_runs WHERE job = %s AND slot < %s"
                    ),
                    (job, now - KEEP_RUNS),
                )
        JOB_RUNS.labels(job, "ran" if claimed else "another_replica").inc()
        return claimed is not None

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(schema=sql.Identifier(self.schema))
