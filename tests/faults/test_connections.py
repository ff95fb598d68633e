"""Broken connections to the broker and to the database, in the middle of the work.

PostgreSQL itself is never restarted (other tests share it): the backends of this
test's scratch database are terminated instead, as a failover or a network cut
would end them, or the scratch database refuses connections for some seconds, as
an outage would.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg import sql

from tests.faults.conftest import SCALE
from tests.support.infrastructure import eventually

pytestmark = pytest.mark.faults

CUTS = 3 * SCALE
TERMINATING_SECONDS = 5 * SCALE
# Long enough for facts to reach handlers while no query can succeed, and for
# their retries (two seconds apart) to fail again.
OUTAGE_SECONDS = 6 + 2 * SCALE

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


def test_a_database_outage_of_seconds_loses_no_fact_and_no_accepted_command(
    product,
):
    """While the database takes no connections, every handler fails; their facts
    must wait the outage out, not be acknowledged and dropped. Commands that could
    not be served are answered 503 `database_unavailable`, never 500."""
    repeated_before = product.texts_repeated()
    database = sql.Identifier(product.database.name)
    terminate = sql.SQL(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
        "FROM pg_stat_activity WHERE datname = {}"
    ).format(sql.Literal(product.database.name))

    def refuse_connections() -> str:
        # From another database: PostgreSQL will not close the one in use.
        ended = []
        with psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(database)
            )
            try:
                deadline = time.monotonic() + OUTAGE_SECONDS
                while time.monotonic() < deadline:
                    ended.append(conn.execute(terminate).fetchone()[0])
                    time.sleep(0.25)
            finally:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(database)
                )
        return (
            f"the scratch database refused connections for {OUTAGE_SECONDS}s "
            f"({sum(ended)} backends terminated)"
        )

    load, what = product.around(refuse_connections)
    result = product.reconcile(load)
    internal_errors = [c.name for c in load.commands if c.code == "internal_error"]

    print(f"{what}: {load.summary()}; {result.summary()}")
    assert result.problems == []
    assert product.texts_repeated() == repeated_before
    assert internal_errors == []
