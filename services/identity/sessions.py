"""Refresh tokens and failed sign-ins, kept in PostgreSQL beside the event store.

Refresh tokens are stored only as SHA-256 hashes. A sign-in starts a session;
each use of its refresh token replaces the token (rotation) within the same
session; presenting a token that was already replaced revokes every token of its
account, since it means the token was copied. Whatever ends sessions returns
their ids, for identity to announce them to every service. Failed sign-ins are
counted per account and per client address over a sliding window, shared by all
replicas.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import sql
from psycopg_pool import ConnectionPool

REFRESH_TOKEN_LIFETIME = timedelta(days=30)
FAILURE_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class RefreshOutcome:
    account_id: uuid.UUID | None
    session_id: uuid.UUID | None = None
    # A replaced token was presented: these sessions of the account were ended.
    ended_sessions: tuple[uuid.UUID, ...] = ()

    @property
    def replayed(self) -> bool:
        return bool(self.ended_sessions)


class SessionStore:
    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self.schema = schema

    def setup(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                self._sql(
                    """
                    CREATE TABLE IF NOT EXISTS {schema}.refresh_tokens (
                        token_hash bytea PRIMARY KEY,
                        account_id uuid NOT NULL,
                        expires_at timestamptz NOT NULL,
                        replaced_at timestamptz);
                    ALTER TABLE {schema}.refresh_tokens
                        ADD COLUMN IF NOT EXISTS session_id uuid;
                    CREATE INDEX IF NOT EXISTS refresh_tokens_account
                        ON {schema}.refresh_tokens (account_id);
                    CREATE TABLE IF NOT EXISTS {schema}.sign_in_failures (
                        subject text NOT NULL,
                        failed_at timestamptz NOT NULL);
                    CREATE INDEX IF NOT EXISTS sign_in_failures_subject
                        ON {schema}.sign_in_failures (subject, failed_at)
                    """
                )
            )

    def issue(self, account_id: uuid.UUID, session_id: uuid.UUID) -> str:
        token = secrets.token_urlsafe(32)
        with self.pool.connection() as conn:
            conn.execute(
                self._sql(
                    "INSERT INTO {schema}.refresh_tokens (token_hash, account_id, "
                    "expires_at, session_id) VALUES (%s, %s, %s, %s)"
                ),
                (
                    _hash(token),
                    account_id,
                    datetime.now(UTC) + REFRESH_TOKEN_LIFETIME,
                    session_id,
                ),
            )
        return token

    def use(self, token: str) -> RefreshOutcome:
        """Spend a refresh token: its account, or None if it is unknown or spent."""
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    "UPDATE {schema}.refresh_tokens SET replaced_at = now() "
                    "WHERE token_hash = %s AND replaced_at IS NULL "
                    "AND expires_at > now() RETURNING account_id, session_id"
                ),
                (_hash(token),),
            ).fetchone()
            if row is not None:
                # Tokens issued before sessions were named start one now.
                return RefreshOutcome(row[0], row[1] or uuid.uuid4())
            spent = conn.execute(
                self._sql(
                    "SELECT account_id FROM {schema}.refresh_tokens "
                    "WHERE token_hash = %s AND replaced_at IS NOT NULL"
                ),
                (_hash(token),),
            ).fetchone()
        if spent is None:
            return RefreshOutcome(None)
        return RefreshOutcome(spent[0], ended_sessions=self.revoke_all(spent[0]))

    def revoke(self, token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
        """End the token's session: its account and session, if it was current."""
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    "UPDATE {schema}.refresh_tokens SET replaced_at = now() "
                    "WHERE token_hash = %s AND replaced_at IS NULL "
                    "RETURNING account_id, session_id"
                ),
                (_hash(token),),
            ).fetchone()
        if row is None or row[1] is None:
            return None
        return row[0], row[1]

    def revoke_all(self, account_id: uuid.UUID) -> tuple[uuid.UUID, ...]:
        """End every open session of the account; their ids.

        Each open session has exactly one current refresh token, so the tokens
        revoked here name every session whose access tokens may still be in use.
        """
        with self.pool.connection() as conn:
            rows = conn.execute(
                self._sql(
                    "UPDATE {schema}.refresh_tokens SET replaced_at = now() "
                    "WHERE account_id = %s AND replaced_at IS NULL "
                    "RETURNING session_id"
                ),
                (account_id,),
            ).fetchall()
        return tuple(sorted({row[0] for row in rows if row[0] is not None}))

    def record_failure(self, *subjects: str) -> None:
        with self.pool.connection() as conn, conn.cursor() as cursor:
            cursor.executemany(
                self._sql("INSERT INTO {schema}.sign_in_failures VALUES (%s, now())"),
                [(subject,) for subject in subjects],
            )
            # Old failures count for nothing; drop them as we go.
            cursor.execute(
                self._sql("DELETE FROM {schema}.sign_in_failures WHERE failed_at < %s"),
                (datetime.now(UTC) - FAILURE_WINDOW,),
            )

    def recent_failures(self, subject: str) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    "SELECT count(*) FROM {schema}.sign_in_failures "
                    "WHERE subject = %s AND failed_at > %s"
                ),
                (subject, datetime.now(UTC) - FAILURE_WINDOW),
            ).fetchone()
        return row[0]

    def forget_failures(self, subject: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                self._sql("DELETE FROM {schema}.sign_in_failures WHERE subject = %s"),
                (subject,),
            )

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(schema=sql.Identifier(self.schema))


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
