"""Under eventlet, a worker waiting on PostgreSQL must not stall its siblings.

psycopg's compiled build waits inside C, where eventlet cannot switch away; the
pure-Python build waits through the patched `select`. This runs a real Nameko
service process: one worker blocks on an advisory lock the test holds, and a
second worker must still answer, both through our pool and through the
eventsourcing application's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import requests

from tests.support.infrastructure import environment_for, eventually
from tests.support.processes import ROOT, free_port

LOCK_KEY = 4242
WAITING_ON_LOCK = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT pg_advisory_lock%%'"
)


def test_a_worker_blocked_in_postgresql_does_not_stall_the_others(
    database, vhost, tmp_path
):
    port = free_port()
    log = (tmp_path / "probe.log").open("wb")
    probe = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.green_probe", str(port)],
        cwd=ROOT,
        env={**os.environ, **environment_for(database, vhost)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    slow_answers: list[str] = []
    try:
        eventually(lambda: _answers(url + "/fast"), timeout=60, what="the probe")
        with database.connect() as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            slow = threading.Thread(
                target=lambda: slow_answers.append(_get(url + "/slow", 60))
            )
            slow.start()
            eventually(lambda: database.scalar(WAITING_ON_LOCK) == 1, what="a waiter")

            fast = _get(url + "/fast", 10)
            slow_still_waiting = slow.is_alive()
            holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        slow.join(timeout=30)
    finally:
        probe.terminate()
        probe.wait(timeout=20)

    assert fast.startswith("fast done")
    assert slow_still_waiting
    assert slow_answers == ["slow done"]


def _get(url: str, timeout: float) -> str:
    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    return response.text


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False
