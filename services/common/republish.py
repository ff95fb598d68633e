"""python -m services.common.republish PRODUCER: publish a service's history again.

Moves the producer's relay back to the start of its event store, so the running
relay publishes every recorded fact again, in order, with the same event ids.
Consumers drop what they already applied, so this is safe at any time; use it to
fill a read model that was cleared, or a queue bound after facts were recorded.
"""

from __future__ import annotations

import argparse

import psycopg
from psycopg import sql

from services.common.settings import load_settings
from services.common.topology import PRODUCERS


def republish_from_start(conninfo: str, producer: str) -> int | None:
    """Reset the producer's relay position; return the position it had.

    None means the producer has never run, so there is nothing to publish again.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        try:
            row = conn.execute(
                sql.SQL(
                    "UPDATE {}.relay_position SET position = 0 WHERE producer = %s "
                    "RETURNING (SELECT position FROM {}.relay_position "
                    "WHERE producer = %s)"
                ).format(sql.Identifier(producer), sql.Identifier(producer)),
                (producer, producer),
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    return None if row is None else row[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("producer", choices=PRODUCERS)
    args = parser.parse_args()
    settings = load_settings()
    before = republish_from_start(settings.database.conninfo(), args.producer)
    if before is None:
        raise SystemExit(f"{args.producer} has never run: there is nothing to publish")
    print(f"{args.producer}: relay moved from position {before} back to the start")


if __name__ == "__main__":
    main()
