"""Read models stay right when facts arrive twice, out of order, or all at once."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from services.common.db import ensure_schema, open_pool
from services.common.envelope import Envelope, stable_event_id
from services.common.projection import OrderedProjection, Outcome


class Trail(OrderedProjection):
    """Remembers the order in which facts were applied, per aggregate."""

    name = "trail"

    def create_tables(self, cursor) -> None:
        cursor.execute(
            self._sql(
                "CREATE TABLE IF NOT EXISTS {schema}.trail ("
                " seq serial PRIMARY KEY, aggregate_id text, version int)"
            )
        )

    def apply(self, cursor, envelope: Envelope) -> None:
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.trail (aggregate_id, version) VALUES (%s, %s)"
            ),
            (envelope.aggregate_id, envelope.aggregate_version),
        )

    def clear(self, cursor) -> None:
        cursor.execute(self._sql("DELETE FROM {schema}.trail"))

    def versions_of(self, aggregate_id: str) -> list[int]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                self._sql(
                    "SELECT version FROM {schema}.trail WHERE aggregate_id = %s "
                    "ORDER BY seq"
                ),
                (aggregate_id,),
            ).fetchall()
        return [row[0] for row in rows]


def fact(aggregate_id: str, version: int) -> Envelope:
    return Envelope(
        event_id=stable_event_id("certificates", aggregate_id, version),
        type="certificate_registered",
        version=1,
        occurred_at=datetime.now(UTC),
        producer="certificates",
        aggregate_id=aggregate_id,
        aggregate_version=version,
        data={},
    )


@pytest.fixture
def trail(settings):
    pool = open_pool(settings.database, max_size=10)
    ensure_schema(pool, "test_read")
    projection = Trail(pool, "test_read")
    projection.setup()
    yield projection
    pool.close()


def test_facts_out_of_order_are_parked_then_applied_in_order(trail):
    aggregate = str(uuid.uuid4())

    outcomes = [trail.handle(fact(aggregate, v)) for v in (3, 1, 2, 2, 5, 4, 1)]

    assert outcomes == [
        Outcome.PARKED,
        Outcome.APPLIED,
        Outcome.APPLIED,
        Outcome.DUPLICATE,
        Outcome.PARKED,
        Outcome.APPLIED,
        Outcome.DUPLICATE,
    ]
    assert trail.versions_of(aggregate) == [1, 2, 3, 4, 5]
    assert trail.parked_count() == 0


def test_competing_workers_apply_each_version_once_and_in_order(trail):
    aggregates = [str(uuid.uuid4()) for _ in range(5)]
    deliveries = [fact(a, v) for a in aggregates for v in range(1, 41)] * 2
    random.Random(7).shuffle(deliveries)

    with ThreadPoolExecutor(max_workers=8) as workers:
        list(workers.map(trail.handle, deliveries))

    for aggregate in aggregates:
        assert trail.versions_of(aggregate) == list(range(1, 41))
    assert trail.parked_count() == 0


def test_a_replayed_history_ends_as_handling_each_fact_would(trail):
    steady, gapped, then = (str(uuid.uuid4()) for _ in range(3))
    history = [
        fact(steady, 1),
        fact(gapped, 1),
        fact(steady, 2),
        fact(steady, 2),  # recorded twice by a republish
        fact(gapped, 3),  # its version 2 never published
        fact(then, 1),
        fact(gapped, 4),
        fact(steady, 3),
    ]

    def state() -> tuple:
        with trail.pool.connection() as conn:
            versions = conn.execute(
                trail._sql(
                    "SELECT aggregate_id, version FROM {schema}.projection_versions "
                    "WHERE projection = 'trail' ORDER BY aggregate_id"
                )
            ).fetchall()
            parked = conn.execute(
                trail._sql(
                    "SELECT aggregate_id, version FROM {schema}.parked_events "
                    "ORDER BY aggregate_id, version"
                )
            ).fetchall()
        return (
            [trail.versions_of(a) for a in (steady, gapped, then)],
            versions,
            parked,
        )

    for envelope in history:
        trail.handle(envelope)
    handled = state()
    with trail.pool.connection() as conn, conn.cursor() as cursor:
        trail.clear(cursor)
        trail.clear_tracking(cursor)
        applied = trail.replay_in(cursor, iter(history))
    replayed = state()

    assert replayed == handled
    assert handled[0] == [[1, 2, 3], [1], [1]]
    assert applied == 5
