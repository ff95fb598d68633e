"""Checks a process makes before it starts: are its servers there, is psycopg green."""

from __future__ import annotations

import psycopg

from services.common.amqp import declare_everything
from services.common.db import ensure_database
from services.common.settings import Settings


class Unreachable(SystemExit):
    def __init__(self, what: str, address: str, setting: str, error: Exception):
        super().__init__(
            f"cannot reach {what} at {address} (setting {setting}): "
            f"{type(error).__name__}: {error}"
        )


def check_psycopg_is_green() -> None:
    # The compiled psycopg waits inside C, where eventlet cannot switch: one slow
    # query would stall every worker of the service.
    if psycopg.pq.__impl__ != "python":
        raise SystemExit(
            f"psycopg's {psycopg.pq.__impl__} implementation blocks eventlet; "
            "install plain psycopg (no [binary] or [c] extra)"
        )


def preflight(settings: Settings) -> None:
    """Stop at once, naming the address and setting, if a dependency is down."""
    try:
        ensure_database(settings.database)
    except psycopg.OperationalError as error:
        raise Unreachable(
            "PostgreSQL", str(settings.database), "XJCERT_DATABASE_URL", error
        ) from None
    try:
        declare_everything(settings.amqp_uri)
    except OSError as error:
        raise Unreachable(
            "RabbitMQ", settings.amqp_address, "XJCERT_AMQP_URI", error
        ) from None
