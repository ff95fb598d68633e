"""PostgreSQL access outside the event store: pools, databases and schemas."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from services.common.settings import DatabaseAddress

# Waits that would otherwise be endless: a lock held by a stuck transaction, or a
# transaction left open by a crashed worker.
SESSION_OPTIONS = "-c lock_timeout=10000 -c idle_in_transaction_session_timeout=60000"


def open_pool(address: DatabaseAddress, max_size: int = 10) -> ConnectionPool:
    pool = ConnectionPool(
        address.conninfo(),
        min_size=1,
        max_size=max_size,
        kwargs={"options": SESSION_OPTIONS},
        open=False,
        name=f"pool:{address}",
    )
    pool.open(wait=True, timeout=10)
    return pool


def ensure_database(address: DatabaseAddress) -> None:
    """Create the product's database if it is missing (idempotent, race-safe)."""
    try:
        psycopg.connect(address.conninfo()).close()
        return
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(address.dbname))
    with (
        psycopg.connect(address.conninfo("postgres"), autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.DuplicateDatabase),
    ):
        conn.execute(create)


def ensure_schema(pool: ConnectionPool, schema: str) -> None:
    with pool.connection() as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
        )


@contextmanager
def schema_lock(address: DatabaseAddress, schema: str) -> Iterator[None]:
    """Hold the schema's change lock while creating what it needs.

    `CREATE ... IF NOT EXISTS` is not safe against itself: two processes (or two
    dependencies of one service) creating the same table at once can both try.
    The lock lives on a connection of its own, so the creation may use any other.
    """
    with psycopg.connect(address.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"ddl:{schema}",))
        yield  # closing the connection releases the lock
