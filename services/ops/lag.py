"""How far each service's relay is behind its event store, read from the database.

The `<service>_relay_lag_events` metric comes from the replica that publishes; this
reads the same numbers directly, so it also answers when no replica runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from services.ops.schema import SCHEMAS

# The relay holds pg_advisory_lock(hashtext('relay:<schema>')) in this database;
# pg_locks lists every database's locks and splits the 64-bit key in two halves.
LOCK_HELD = """
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 1
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND ((classid::bigint << 32) | objid::bigint) = hashtext(%s)::bigint)
"""


@dataclass(frozen=True)
class RelayLag:
    producer: str
    recorded: int  # the newest notification id in the event store
    published: int  # the relay's saved position
    publishing: bool  # some replica holds the relay lock right now

    @property
    def behind(self) -> int:
        return max(0, self.recorded - self.published)


def relay_lags(conninfo: str) -> list[RelayLag]:
    """One entry per service whose event store exists."""
    lags = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for service, schema in SCHEMAS.items():
            events = f"{schema.application.name.lower()}_events"
            try:
                lags.append(_lag_of(conn, service, events))
            except psycopg.errors.UndefinedTable:
                continue  # the service has never started
    return lags


def _lag_of(conn: psycopg.Connection, service: str, events: str) -> RelayLag:
    recorded = conn.execute(
        sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.{}").format(
            sql.Identifier(service), sql.Identifier(events)
        )
    ).fetchone()[0]
    position = conn.execute(
        sql.SQL("SELECT position FROM {}.relay_position WHERE producer = %s").format(
            sql.Identifier(service)
        ),
        (service,),
    ).fetchone()
    publishing = conn.execute(LOCK_HELD, (f"relay:{service}",)).fetchone()[0]
    return RelayLag(service, recorded, position[0] if position else 0, publishing)
