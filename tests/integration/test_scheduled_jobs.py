"""Scheduled jobs run once per period however many replicas tick, on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from services.common.db import ensure_schema, open_pool
from services.common.schedule import ScheduledJobs

EVERY = timedelta(minutes=10)


@pytest.fixture
def replicas(settings):
    pool = open_pool(settings.database, max_size=8)
    ensure_schema(pool, "jobs_read")
    made = []
    for name in ("replica-a", "replica-b", "replica-c"):
        jobs = ScheduledJobs(pool, "jobs_read")
        jobs.replica = name
        jobs.setup()
        made.append(jobs)
    yield made
    pool.close()


def test_one_replica_runs_each_period_when_all_tick_at_once(replicas):
    moment = datetime(2026, 12, 3, 10, 4, tzinfo=UTC)

    with ThreadPoolExecutor(len(replicas)) as ticks:
        claimed = list(
            ticks.map(lambda jobs: jobs.claim("close_batches", EVERY, moment), replicas)
        )

    assert claimed.count(True) == 1


def test_each_period_and_each_job_is_claimed_on_its_own(replicas):
    first, second, _ = replicas
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)

    runs = [
        first.claim("close_batches", EVERY, start),
        second.claim("close_batches", EVERY, start + timedelta(minutes=9)),  # same
        second.claim("close_batches", EVERY, start + timedelta(minutes=10)),  # next
        first.claim("overdue_check", EVERY, start + timedelta(minutes=9)),  # other job
    ]

    assert runs == [True, False, True, True]


def test_old_runs_are_forgotten(replicas, database):
    first, *_ = replicas
    long_ago = datetime(2026, 1, 5, tzinfo=UTC)
    first.claim("close_batches", EVERY, long_ago)
    first.claim("close_batches", EVERY, long_ago + timedelta(days=60))

    kept = database.scalar("SELECT count(*) FROM jobs_read.job_runs")

    assert kept == 1
