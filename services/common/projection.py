"""Read models fed by facts that may arrive twice or out of order.

Each aggregate's facts carry their version (1, 2, ...). A projection applies a
fact only when it is the next version of its aggregate, in the same transaction
that records the new version: an older or equal version is a duplicate and
changes nothing; a newer one is parked until the versions before it arrive.
This keeps read models right with pooled workers and several replicas, which
take messages of one aggregate in any order.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from enum import Enum
from typing import Any

from psycopg import Cursor, sql
from psycopg_pool import ConnectionPool

from services.common.envelope import ContractViolation, Envelope, envelope_from_dict

log = logging.getLogger(__name__)


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    PARKED = "parked"


class OrderedProjection(ABC):
    """Base of every read model; subclasses say how one fact changes their rows."""

    name: str
    # True: every version must be applied, in order (gaps are parked).
    # False: the read model only needs the newest fact, so later versions win and
    # gaps are fine (the queue takes only some of the aggregate's event types).
    contiguous: bool = True

    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self.schema = schema

    @abstractmethod
    def create_tables(self, cursor: Cursor) -> None: ...

    @abstractmethod
    def apply(self, cursor: Cursor, envelope: Envelope) -> None: ...

    @abstractmethod
    def clear(self, cursor: Cursor) -> None:
        """Remove every row of the read model, before a rebuild."""

    def setup(self) -> None:
        with self.pool.connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                self._sql(
                    """
                    CREATE TABLE IF NOT EXISTS {schema}.projection_versions (
                        projection text NOT NULL,
                        aggregate_id text NOT NULL,
                        version integer NOT NULL,
                        PRIMARY KEY (projection, aggregate_id));
                    CREATE TABLE IF NOT EXISTS {schema}.parked_events (
                        projection text NOT NULL,
                        aggregate_id text NOT NULL,
                        version integer NOT NULL,
                        message jsonb NOT NULL,
                        parked_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (projection, aggregate_id, version))
                    """
                )
            )
            self.create_tables(cursor)

    def handle(self, envelope: Envelope) -> Outcome:
        with self.pool.connection() as conn, conn.cursor() as cursor:
            return self.handle_in(cursor, envelope)

    def handle_in(self, cursor: Cursor, envelope: Envelope) -> Outcome:
        """Apply one fact within the caller's transaction."""
        if envelope.aggregate_version is None:
            raise ContractViolation(
                "missing_aggregate_version",
                "facts projected into a read model must carry aggregate_version",
            )
        current = self._lock_version(cursor, envelope.aggregate_id)
        if envelope.aggregate_version <= current:
            return Outcome.DUPLICATE
        if not self.contiguous:
            self.apply(cursor, envelope)
            self._save_version(
                cursor, envelope.aggregate_id, envelope.aggregate_version
            )
            return Outcome.APPLIED
        if envelope.aggregate_version > current + 1:
            self._park(cursor, envelope)
            return Outcome.PARKED
        self.apply(cursor, envelope)
        latest = self._apply_parked(cursor, envelope.aggregate_id, current + 1)
        self._save_version(cursor, envelope.aggregate_id, latest)
        return Outcome.APPLIED

    def replay_in(self, cursor: Cursor, envelopes: Iterable[Envelope]) -> int:
        """Apply a whole history, in the order it was recorded, to a read model
        just cleared with its tracking (a rebuild); return how many applied.

        The outcome is `handle_in`'s for each fact in turn, but recorded order
        means each aggregate's versions come in order: they are counted in memory
        and written once at the end, and the statements are pipelined, so the
        rebuild does not wait for PostgreSQL after every fact.
        """
        versions: dict[str, int] = {}
        applied = 0
        with cursor.connection.pipeline():
            for envelope in envelopes:
                if self._replay_one(cursor, envelope, versions):
                    applied += 1
        with cursor.copy(
            self._sql(
                "COPY {schema}.projection_versions (projection, aggregate_id, version) "
                "FROM STDIN"
            )
        ) as copy:
            for aggregate_id, version in versions.items():
                copy.write_row((self.name, aggregate_id, version))
        return applied

    def _replay_one(
        self, cursor: Cursor, envelope: Envelope, versions: dict[str, int]
    ) -> bool:
        if envelope.aggregate_version is None:
            raise ContractViolation(
                "missing_aggregate_version",
                "facts projected into a read model must carry aggregate_version",
            )
        current = versions.get(envelope.aggregate_id, 0)
        if envelope.aggregate_version <= current:
            return False
        if self.contiguous and envelope.aggregate_version > current + 1:
            # A gap in a recorded history stays a gap: park, as live consumers do.
            self._park(cursor, envelope)
            return False
        self.apply(cursor, envelope)
        versions[envelope.aggregate_id] = envelope.aggregate_version
        return True

    def parked_count(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    "SELECT count(*) FROM {schema}.parked_events WHERE projection = %s"
                ),
                (self.name,),
            ).fetchone()
        return row[0]

    def clear_tracking(self, cursor: Cursor) -> None:
        for table in ("projection_versions", "parked_events"):
            cursor.execute(
                self._sql(f"DELETE FROM {{schema}}.{table} WHERE projection = %s"),
                (self.name,),
            )

    def _lock_version(self, cursor: Cursor, aggregate_id: str) -> int:
        # Insert-then-lock serialises concurrent first facts of one aggregate too.
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.projection_versions VALUES (%s, %s, 0) "
                "ON CONFLICT DO NOTHING"
            ),
            (self.name, aggregate_id),
        )
        cursor.execute(
            self._sql(
                "SELECT version FROM {schema}.projection_versions "
                "WHERE projection = %s AND aggregate_id = %s FOR UPDATE"
            ),
            (self.name, aggregate_id),
        )
        return cursor.fetchone()[0]

    def _save_version(self, cursor: Cursor, aggregate_id: str, version: int) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.projection_versions SET version = %s "
                "WHERE projection = %s AND aggregate_id = %s"
            ),
            (version, self.name, aggregate_id),
        )

    def _park(self, cursor: Cursor, envelope: Envelope) -> None:
        log.info(
            "parking version %s of %s until earlier versions arrive",
            envelope.aggregate_version,
            envelope.aggregate_id,
        )
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.parked_events "
                "(projection, aggregate_id, version, message) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ),
            (
                self.name,
                envelope.aggregate_id,
                envelope.aggregate_version,
                json.dumps(envelope.to_dict(), ensure_ascii=False),
            ),
        )

    def _apply_parked(self, cursor: Cursor, aggregate_id: str, version: int) -> int:
        """Apply parked successors of `version` in order; return the last applied."""
        while True:
            cursor.execute(
                self._sql(
                    "DELETE FROM {schema}.parked_events WHERE projection = %s "
                    "AND aggregate_id = %s AND version = %s RETURNING message"
                ),
                (self.name, aggregate_id, version + 1),
            )
            row = cursor.fetchone()
            if row is None:
                return version
            body: Any = row[0]
            self.apply(cursor, envelope_from_dict(body))
            version += 1

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(schema=sql.Identifier(self.schema))
