"""Reissue's read models.

- `KnownCertificates`: the certificates on record, with whether an electronic
  certificate was issued, so eligibility is decided without asking another service.
- `KnownCustody`: where distribution keeps each national paper certificate.
- `ApplicationViews`: every application's current state, for the review queue,
  the sync list and each holder's list.

The first two follow other services' facts of the same certificate id, so they are
separate projections: each counts its own aggregate's versions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import Cursor
from psycopg.rows import dict_row

from services.common.envelope import Envelope
from services.common.projection import OrderedProjection
from services.reissue.domain import State


class KnownCertificates(OrderedProjection):
    name = "known_certificates"

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            self._sql(
                """
                CREATE TABLE IF NOT EXISTS {schema}.known_certificates (
                    certificate_id uuid PRIMARY KEY,
                    certificate_number text NOT NULL UNIQUE,
                    holder_id_number text NOT NULL,
                    holder_name text NOT NULL,
                    qualification_name text NOT NULL,
                    level text NOT NULL,
                    kind text NOT NULL,
                    registration_place text NOT NULL,
                    custody_until date,
                    ecert_issued boolean NOT NULL DEFAULT false);
                ALTER TABLE {schema}.known_certificates
                    ADD COLUMN IF NOT EXISTS revoked boolean NOT NULL DEFAULT false
                """
            )
        )

    def clear(self, cursor: Cursor) -> None:
        cursor.execute(self._sql("DELETE FROM {schema}.known_certificates"))

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        data = envelope.data
        if envelope.type == "certificate_registered":
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.known_certificates (certificate_id, "
                    "certificate_number, holder_id_number, holder_name, "
                    "qualification_name, level, kind, registration_place, "
                    "custody_until) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (certificate_id) DO NOTHING"
                ),
                (
                    envelope.aggregate_id,
                    data["certificate_number"],
                    data["holder_id_number"],
                    data["holder_name"],
                    data["qualification_name"],
                    data["level"],
                    data["kind"],
                    data["registration_place"],
                    data["custody_until"],
                ),
            )
        elif envelope.type == "certificate_revoked":
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.known_certificates SET revoked = true "
                    "WHERE certificate_id = %s"
                ),
                (envelope.aggregate_id,),
            )
        elif _issues_ecert(envelope):
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.known_certificates SET ecert_issued = true "
                    "WHERE certificate_id = %s"
                ),
                (envelope.aggregate_id,),
            )

    def by_number(self, certificate_number: str) -> dict[str, Any] | None:
        with (
            self.pool.connection() as conn,
            conn.cursor(row_factory=dict_row) as cursor,
        ):
            cursor.execute(
                self._sql(
                    "SELECT k.*, c.state AS custody_state, "
                    "coalesce(c.custody_until, k.custody_until) AS custody_until "
                    "FROM {schema}.known_certificates k "
                    "LEFT JOIN {schema}.known_custody c USING (certificate_id) "
                    "WHERE k.certificate_number = %s"
                ),
                (certificate_number,),
            )
            return cursor.fetchone()


def _issues_ecert(envelope: Envelope) -> bool:
    """The centre's signature issues an industry e-certificate; the health
    commission's alone issues a health one."""
    if envelope.type == "ecert_centre_signed":
        return True
    return (
        envelope.type == "ecert_authority_signed"
        and envelope.data["authority"] == "health_commission"
    )


class KnownCustody(OrderedProjection):
    name = "known_custody"

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            self._sql(
                """
                CREATE TABLE IF NOT EXISTS {schema}.known_custody (
                    certificate_id uuid PRIMARY KEY,
                    state text NOT NULL);
                ALTER TABLE {schema}.known_custody
                    ADD COLUMN IF NOT EXISTS custody_until date
                """
            )
        )

    def clear(self, cursor: Cursor) -> None:
        cursor.execute(self._sql("DELETE FROM {schema}.known_custody"))

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        state = CUSTODY_STATES.get(envelope.type)
        if state is None:
            return
        # A reissued certificate is kept until a date of its own.
        custody_until = envelope.data.get("custody_until")
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.known_custody (certificate_id, state, "
                "custody_until) VALUES (%s, %s, %s) "
                "ON CONFLICT (certificate_id) DO UPDATE SET state = excluded.state, "
                "custody_until = coalesce(excluded.custody_until, "
                "known_custody.custody_until)"
            ),
            (envelope.aggregate_id, state, custody_until),
        )


# Custody facts that change whether the centre still holds the certificate.
CUSTODY_STATES = {
    "custody_opened": "in_custody",
    "custody_reissued": "in_custody",
    "custody_booked": "booked",
    "custody_released": "in_custody",
    "custody_collected": "collected",
    "custody_mail_requested": "mail_requested",
    "custody_shipped": "shipped",
    "custody_delivered": "delivered",
    "custody_expired": "custody_expired",
}


class ApplicationViews(OrderedProjection):
    name = "applications"

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            self._sql(
                """
                CREATE TABLE IF NOT EXISTS {schema}.applications (
                    application_id uuid PRIMARY KEY,
                    account_id uuid NOT NULL,
                    certificate_id uuid NOT NULL,
                    certificate_number text NOT NULL,
                    kind text NOT NULL,
                    holder_name text NOT NULL,
                    qualification_name text NOT NULL,
                    level text NOT NULL,
                    reason text NOT NULL,
                    state text NOT NULL,
                    started_at timestamptz NOT NULL,
                    submitted_at timestamptz,
                    review_due date,
                    submissions integer NOT NULL DEFAULT 0,
                    last_message text,
                    period text,
                    sync_due date,
                    updated_at timestamptz NOT NULL);
                CREATE INDEX IF NOT EXISTS applications_by_account
                    ON {schema}.applications (account_id);
                CREATE INDEX IF NOT EXISTS applications_by_state
                    ON {schema}.applications (state)
                """
            )
        )

    def clear(self, cursor: Cursor) -> None:
        cursor.execute(self._sql("DELETE FROM {schema}.applications"))

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        if envelope.type == "reissue_started":
            self._started(cursor, envelope)
            return
        change = APPLICATION_CHANGES.get(envelope.type)
        if change is None:
            return
        columns = {**change(envelope.data), "updated_at": envelope.occurred_at}
        assignments = ", ".join(f"{column} = %s" for column in columns)
        cursor.execute(
            self._sql(
                f"UPDATE {{schema}}.applications SET {assignments} "
                "WHERE application_id = %s"
            ),
            (*columns.values(), envelope.aggregate_id),
        )
        if envelope.type == "reissue_submitted":
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.applications SET submissions = submissions + 1 "
                    "WHERE application_id = %s"
                ),
                (envelope.aggregate_id,),
            )

    def _started(self, cursor: Cursor, envelope: Envelope) -> None:
        data = envelope.data
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.applications (application_id, account_id, "
                "certificate_id, certificate_number, kind, holder_name, "
                "qualification_name, level, reason, state, started_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (application_id) DO NOTHING"
            ),
            (
                envelope.aggregate_id,
                data["account_id"],
                data["certificate_id"],
                data["certificate_number"],
                data["kind"],
                data["holder_name"],
                data["qualification_name"],
                data["level"],
                data["reason"],
                State.DRAFT,
                envelope.occurred_at,
                envelope.occurred_at,
            ),
        )

    # --- queries --------------------------------------------------------------

    def of_account(self, account_id: Any) -> list[dict[str, Any]]:
        return self._rows(
            "WHERE account_id = %s ORDER BY started_at DESC", (account_id,)
        )

    def waiting_for_review(self) -> list[dict[str, Any]]:
        return self._rows(
            "WHERE state = %s ORDER BY review_due, submitted_at", (State.SUBMITTED,)
        )

    def waiting_for_sync(self) -> list[dict[str, Any]]:
        return self._rows(
            "WHERE state = %s ORDER BY sync_due, certificate_number", (State.ARRIVED,)
        )

    def in_batch(self, period: str) -> list[dict[str, Any]]:
        return self._rows("WHERE period = %s ORDER BY certificate_number", (period,))

    def overdue_reviews(self, today: date) -> int:
        return self._count("state = %s AND review_due < %s", (State.SUBMITTED, today))

    def overdue_syncs(self, today: date) -> int:
        return self._count("state = %s AND sync_due < %s", (State.ARRIVED, today))

    def _rows(self, where: str, params: tuple) -> list[dict[str, Any]]:
        with (
            self.pool.connection() as conn,
            conn.cursor(row_factory=dict_row) as cursor,
        ):
            cursor.execute(
                self._sql(f"SELECT * FROM {{schema}}.applications {where}"), params
            )
            return cursor.fetchall()

    def _count(self, where: str, params: tuple) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    f"SELECT count(*) FROM {{schema}}.applications WHERE {where}"
                ),
                params,
            ).fetchone()
        return row[0]


# Each application fact after the first: the columns it sets.
APPLICATION_CHANGES = {
    "reissue_reason_changed": lambda data: {"reason": data["reason"]},
    "reissue_submitted": lambda data: {
        "state": State.SUBMITTED,
        "submitted_at": data["submitted_at"],
        "review_due": data["review_due"],
    },
    "reissue_returned": lambda data: {
        "state": State.RETURNED,
        "review_due": None,
        "last_message": data["message"],
    },
    "reissue_approved": lambda data: {"state": State.APPROVED, "review_due": None},
    "reissue_batched": lambda data: {
        "state": State.IN_BATCH,
        "period": data["period"],
    },
    "reissue_arrived": lambda data: {
        "state": State.ARRIVED,
        "sync_due": data["sync_due"],
    },
    "reissue_synced": lambda data: {"state": State.SYNCED, "sync_due": None},
    "reissue_withdrawn": lambda data: {"state": State.WITHDRAWN, "review_due": None},
    "reissue_material_attached": lambda data: {},
    "reissue_material_removed": lambda data: {},
}
