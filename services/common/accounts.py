"""Verified accounts: the ID number a signed-in holder stands for."""

from __future__ import annotations

import uuid

from psycopg import Cursor

from services.common.envelope import Envelope
from services.common.projection import OrderedProjection


class VerifiedAccounts(OrderedProjection):
    """Which ID number each verified account stands for, from identity's facts.

    A service that answers holders about their own things keeps this in its read
    schema, fed by `real_name_verified`, to know whose they are.
    """

    name = "verified_accounts"
    contiguous = False

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            self._sql(
                "CREATE TABLE IF NOT EXISTS {schema}.verified_accounts ("
                " account_id uuid PRIMARY KEY, id_number text NOT NULL)"
            )
        )

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        if envelope.type == "real_name_verified":
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.verified_accounts VALUES (%s, %s) "
                    "ON CONFLICT (account_id) DO UPDATE SET id_number = %s"
                ),
                (
                    envelope.data["account_id"],
                    envelope.data["id_number"],
                    envelope.data["id_number"],
                ),
            )

    def clear(self, cursor: Cursor) -> None:
        cursor.execute(self._sql("DELETE FROM {schema}.verified_accounts"))

    def id_number_of(self, account_id: uuid.UUID) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    "SELECT id_number FROM {schema}.verified_accounts "
                    "WHERE account_id = %s"
                ),
                (account_id,),
            ).fetchone()
        return row[0] if row else None
