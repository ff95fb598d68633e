"""Broken connections to the broker and to the database, in the middle of the work.

PostgreSQL itself is never restarted (other tests share it): the backends of this
test's scratch database are terminated instead, as a failover or a network cut
would end them.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import SCALE
from tests.support.infrastructure import eventually

pytestmark = pytest.mark.faults

CUTS = 3 * SCALE
TERMINATING_SECONDS = 5 * SCALE

TERMINATE = (
    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def cut_once(vhost) -> int:
    """Close the vhost's connections, once the management API lists some again.

    Right after a cut the services' new connections may not be listed yet; a cut
    that found nothing would test nothing.
    """
    closed: list[int] = []
    eventually(
        lambda: closed.append(vhost.close_connections()) or closed[-1] > 0,
        timeout=60,
        interval=0.5,
        what="connections to cut",
    )
    return closed[-1]


def test_broker_connections_cut_and_restored_lose_no_fact_and_no_accepted_command(
    product,
):
    repeated_before = product.texts_repeated()

    def cut_connections() -> str:
        cut = []
        for _ in range(CUTS):
            cut.append(cut_once(product.vhost))
            time.sleep(1)
        return f"cut the vhost's connections {CUTS} times ({cut} at a time)"

    load, what = product.around(cut_connections)
    result = product.reconcile(load)

    print(f"{what}: {load.summary()}; {result.summary()}")
    assert result.problems == []
    assert product.texts_repeated() == repeated_before


def test_database_connections_terminated_lose_no_fact_and_no_accepted_command(
    product,
):
    repeated_before = product.texts_repeated()

    def terminate_backends() -> str:
        # Again and again for a while, so that some end in the middle of the work.
        ended = []
        deadline = time.monotonic() + TERMINATING_SECONDS
        with product.database.connect() as conn:
            while time.monotonic() < deadline:
                ended.append(conn.execute(TERMINATE).fetchone()[0])
                time.sleep(0.25)
        return (
            f"terminated the scratch database's backends {len(ended)} times in "
            f"{TERMINATING_SECONDS}s ({sum(ended)} in all)"
        )

    load, what = product.around(terminate_backends)
    result = product.reconcile(load)

    print(f"{what}: {load.summary()}; {result.summary()}")
    assert result.problems == []
    assert product.texts_repeated() == repeated_before
