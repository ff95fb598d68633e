"""Ended sign-in sessions, so that every service refuses their access tokens.

Access tokens are checked by signature alone, so signing out would leave a token
good until it expires. Identity therefore announces each ended session in its
`sessions_ended` fact; every service that answers HTTP records the fact in its
own read schema, and each replica keeps the sessions ended in the last token
lifetime in memory, reloaded every `RELOAD_SECONDS`. The replica that consumes
the fact sees it at once, its siblings within a reload.

A session's tokens are refused only while they could still be valid: rows older
than a token's lifetime plus `KEPT_MARGIN` are deleted as the record is reloaded.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from nameko.extensions import DependencyProvider, SharedExtension
from psycopg import sql
from psycopg_pool import ConnectionPool

from services.common.auth import ACCESS_TOKEN_LIFETIME, Caller
from services.common.dependencies import ReadPool, in_read_schema
from services.common.envelope import ContractViolation, Envelope

log = logging.getLogger(__name__)

RELOAD_SECONDS = 1.0
# Clocks of identity and of this service may differ by this much.
KEPT_MARGIN = timedelta(minutes=5)
KEPT_FOR = ACCESS_TOKEN_LIFETIME + KEPT_MARGIN


class EndedSessions:
    """The ended sessions of one service's read schema, and their copy in memory."""

    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self._ended: frozenset[uuid.UUID] = frozenset()
        self._lock = threading.Lock()

    def setup(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                self._sql(
                    """
                    CREATE TABLE IF NOT EXISTS {schema}.ended_sessions (
                        session_id uuid PRIMARY KEY,
                        ended_at timestamptz NOT NULL);
                    CREATE INDEX IF NOT EXISTS ended_sessions_at
                        ON {schema}.ended_sessions (ended_at)
                    """
                )
            )
        self.reload()

    def record(self, envelope: Envelope) -> str:
        """Record identity's `sessions_ended` fact; the same fact again adds nothing."""
        if envelope.type != "sessions_ended":
            raise ContractViolation(
                "unexpected_type", f"{envelope.type} does not end sessions"
            )
        sessions = [
            (uuid.UUID(s), envelope.occurred_at) for s in envelope.data["session_ids"]
        ]
        with self.pool.connection() as conn, conn.cursor() as cursor:
            cursor.executemany(
                self._sql(
                    "INSERT INTO {schema}.ended_sessions VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING"
                ),
                sessions,
            )
        with self._lock:
            self._ended = self._ended | {session for session, _ in sessions}
        return "applied"

    def reload(self) -> None:
        """Forget what can no longer matter, then take the rest into memory."""
        kept_since = datetime.now(UTC) - KEPT_FOR
        with self.pool.connection() as conn:
            conn.execute(
                self._sql("DELETE FROM {schema}.ended_sessions WHERE ended_at < %s"),
                (kept_since,),
            )
            rows = conn.execute(
                self._sql("SELECT session_id FROM {schema}.ended_sessions")
            ).fetchall()
        with self._lock:
            self._ended = frozenset(row[0] for row in rows)

    def has_ended(self, caller: Caller) -> bool:
        return caller.session_id is not None and caller.session_id in self._ended

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(schema=sql.Identifier(self.schema))


class SessionEnds(SharedExtension):
    """A service's ended sessions, shared by its HTTP entrypoints and its consumer."""

    read_pool = ReadPool()

    def __init__(self) -> None:
        super().__init__()
        self.sessions: EndedSessions | None = None
        self._stopping = False

    def setup(self) -> None:
        self.sessions = in_read_schema(self, EndedSessions)

    def start(self) -> None:
        self.container.spawn_managed_thread(self._keep_reloading, identifier="sessions")

    def stop(self) -> None:
        self._stopping = True

    def _keep_reloading(self) -> None:
        while not self._stopping:
            time.sleep(RELOAD_SECONDS)
            try:
                self.sessions.reload()
            except Exception:  # a database outage: keep what we have, try again
                log.warning("could not reload the ended sessions", exc_info=True)


class SessionEndsRecord(DependencyProvider):
    """For the service's `sessions_ended` consumer: the record to write to."""

    session_ends = SessionEnds()

    def get_dependency(self, worker_ctx: Any) -> EndedSessions:
        return self.session_ends.sessions
