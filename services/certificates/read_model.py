"""Each applicant's certificates: one row per certificate, keyed by holder ID number.

Fed over RabbitMQ from the certificates' own published facts; the portal reads it
over HTTP. Ordering and duplicates are handled by `OrderedProjection`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from psycopg import Cursor
from psycopg.rows import dict_row

from services.certificates.catalogue import Kind
from services.certificates.domain import RegistrationPlace
from services.common.envelope import Envelope
from services.common.projection import OrderedProjection
from services.common.workdays import BEIJING


class State:
    IN_CUSTODY = "in_custody"
    AWAITING_INDUSTRY_SIGNATURE = "awaiting_industry_signature"
    AWAITING_CENTRE_SIGNATURE = "awaiting_centre_signature"
    AWAITING_HEALTH_COMMISSION = "awaiting_health_commission"
    ECERT_DOWNLOADABLE = "ecert_downloadable"
    REVOKED = "revoked"
    SERVED_BY_XPCC = "served_by_xpcc"


FIRST_STATE = {
    Kind.NATIONAL_PAPER: State.IN_CUSTODY,
    Kind.REGIONAL_INDUSTRY: State.AWAITING_INDUSTRY_SIGNATURE,
    Kind.REGIONAL_HEALTH: State.AWAITING_HEALTH_COMMISSION,
}

COLUMNS = (
    "certificate_id",
    "holder_id_number",
    "holder_name",
    "certificate_number",
    "qualification_code",
    "qualification_name",
    "level",
    "specialty",
    "kind",
    "exam_session_id",
    "exam_end_date",
    "custody_until",
    "registration_place",
    "state",
    "authority_signed_at",
    "centre_sign_by",
    "centre_signed_at",
    "revocation_reason",
    "printed_on",
    "version",
)


class ApplicantCertificates(OrderedProjection):
    name = "applicant_certificates"

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            self._sql(
                """
                CREATE TABLE IF NOT EXISTS {schema}.applicant_certificates (
                    certificate_id text PRIMARY KEY,
                    holder_id_number text NOT NULL,
                    holder_name text NOT NULL,
                    certificate_number text NOT NULL UNIQUE,
                    qualification_code text NOT NULL,
                    qualification_name text NOT NULL,
                    level text NOT NULL,
                    specialty text,
                    kind text NOT NULL,
                    exam_session_id text NOT NULL,
                    exam_end_date date NOT NULL,
                    custody_until date,
                    registration_place text NOT NULL,
                    state text NOT NULL,
                    version integer NOT NULL,
                    updated_at timestamptz NOT NULL);
                ALTER TABLE {schema}.applicant_certificates
                    ADD COLUMN IF NOT EXISTS authority_signed_at timestamptz,
                    ADD COLUMN IF NOT EXISTS centre_sign_by date,
                    ADD COLUMN IF NOT EXISTS centre_signed_at timestamptz,
                    ADD COLUMN IF NOT EXISTS revocation_reason text,
                    ADD COLUMN IF NOT EXISTS printed_on date;
                CREATE INDEX IF NOT EXISTS applicant_certificates_holder
                    ON {schema}.applicant_certificates (holder_id_number)
                """
            )
        )

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        if envelope.type == "certificate_registered":
            self._registered(cursor, envelope)
        elif envelope.type == "ecert_authority_signed":
            self._authority_signed(cursor, envelope)
        elif envelope.type == "ecert_centre_signed":
            self._update(
                cursor,
                envelope,
                state=State.ECERT_DOWNLOADABLE,
                centre_sign_by=None,
                centre_signed_at=envelope.data["signed_at"],
            )
        elif envelope.type == "certificate_printed":
            self._update(
                cursor, envelope, printed_on=_beijing_day(envelope.data["arrived_at"])
            )
        elif envelope.type == "certificate_revoked":
            self._update(
                cursor,
                envelope,
                state=State.REVOKED,
                centre_sign_by=None,
                revocation_reason=envelope.data["reason"],
            )

    def clear(self, cursor: Cursor) -> None:
        cursor.execute(self._sql("DELETE FROM {schema}.applicant_certificates"))

    def certificates_of(self, id_number: str) -> list[dict[str, Any]]:
        with (
            self.pool.connection() as conn,
            conn.cursor(row_factory=dict_row) as cursor,
        ):
            cursor.execute(
                self._sql(
                    "SELECT a.*, c.state AS custody_state, c.starts_at, c.ends_at, "
                    "c.ship_by, c.tracking_number, c.released_because, c.days_left, "
                    "coalesce(c.reissued, false) AS reissued, "
                    "coalesce(c.custody_until, a.custody_until) AS custody_until, "
                    "r.application_id AS reissue_id, r.state AS reissue_state, "
                    "r.last_message AS reissue_message, "
                    "r.review_due AS reissue_review_due, r.period AS reissue_batch, "
                    "r.sync_due AS reissue_sync_due "
                    "FROM {schema}.applicant_certificates a "
                    "LEFT JOIN {schema}.certificate_custody c USING (certificate_id) "
                    "LEFT JOIN LATERAL (SELECT * FROM {schema}.certificate_reissues r "
                    "  WHERE r.certificate_id = a.certificate_id "
                    "  AND r.state <> 'withdrawn' "
                    "  ORDER BY r.started_at DESC LIMIT 1) r ON true "
                    "WHERE a.holder_id_number = %s "
                    "ORDER BY a.exam_end_date DESC, a.certificate_number"
                ),
                (id_number,),
            )
            return cursor.fetchall()

    def certificate(self, certificate_number: str) -> dict[str, Any] | None:
        with (
            self.pool.connection() as conn,
            conn.cursor(row_factory=dict_row) as cursor,
        ):
            cursor.execute(
                self._sql(
                    "SELECT a.*, c.reissued FROM {schema}.applicant_certificates a "
                    "LEFT JOIN {schema}.certificate_custody c USING (certificate_id) "
                    "WHERE a.certificate_number = %s"
                ),
                (certificate_number,),
            )
            return cursor.fetchone()

    def awaiting_centre_signature(self) -> list[dict[str, Any]]:
        with (
            self.pool.connection() as conn,
            conn.cursor(row_factory=dict_row) as cursor,
        ):
            cursor.execute(
                self._sql(
                    "SELECT * FROM {schema}.applicant_certificates WHERE state = %s "
                    "ORDER BY centre_sign_by, certificate_number"
                ),
                (State.AWAITING_CENTRE_SIGNATURE,),
            )
            return cursor.fetchall()

    def all_rows(self) -> list[tuple]:
        """Every row, in a stable order, without timestamps: for comparisons."""
        with self.pool.connection() as conn:
            return conn.execute(
                self._sql(
                    f"SELECT {', '.join(COLUMNS)} "
                    "FROM {schema}.applicant_certificates ORDER BY certificate_id"
                )
            ).fetchall()

    def _registered(self, cursor: Cursor, envelope: Envelope) -> None:
        data = envelope.data
        if data["registration_place"] == RegistrationPlace.XPCC:
            state = State.SERVED_BY_XPCC
        else:
            state = FIRST_STATE[Kind(data["kind"])]
        cursor.execute(
            self._sql(
                """
                INSERT INTO {schema}.applicant_certificates VALUES (
                    %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                    %s)
                ON CONFLICT (certificate_id) DO NOTHING
                """
            ),
            (
                envelope.aggregate_id,
                data["holder_id_number"],
                data["holder_name"],
                data["certificate_number"],
                data["qualification_code"],
                data["qualification_name"],
                data["level"],
                data.get("specialty"),
                data["kind"],
                data["exam_session_id"],
                date.fromisoformat(data["exam_end_date"]),
                _date_or_none(data["custody_until"]),
                data["registration_place"],
                state,
                envelope.aggregate_version,
                envelope.occurred_at,
            ),
        )

    def _authority_signed(self, cursor: Cursor, envelope: Envelope) -> None:
        data = envelope.data
        industry = data["authority"] == "industry_authority"
        self._update(
            cursor,
            envelope,
            state=State.AWAITING_CENTRE_SIGNATURE
            if industry
            else State.ECERT_DOWNLOADABLE,
            authority_signed_at=data["signed_at"],
            centre_sign_by=data["centre_sign_by"],
        )

    def _update(self, cursor: Cursor, envelope: Envelope, **columns: Any) -> None:
        columns["version"] = envelope.aggregate_version
        columns["updated_at"] = envelope.occurred_at
        assignments = ", ".join(f"{column} = %s" for column in columns)
        cursor.execute(
            self._sql(
                f"UPDATE {{schema}}.applicant_certificates SET {assignments} "
                "WHERE certificate_id = %s"
            ),
            (*columns.values(), envelope.aggregate_id),
        )


def _beijing_day(moment: str) -> date:
    return datetime.fromisoformat(moment).astimezone(BEIJING).date()


def _date_or_none(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class CertificateCustody(OrderedProjection):
    """Where each paper certificate stands with distribution: booked, mailed, ..."""

    name = "certificate_custody"

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            self._sql(
                """
                CREATE TABLE IF NOT EXISTS {schema}.certificate_custody (
                    certificate_id text PRIMARY KEY,
                    state text NOT NULL,
                    starts_at timestamptz,
                    ends_at timestamptz,
                    ship_by date,
                    tracking_number text,
                    released_because text,
                    days_left integer);
                ALTER TABLE {schema}.certificate_custody
                    ADD COLUMN IF NOT EXISTS reissued boolean NOT NULL DEFAULT false,
                    ADD COLUMN IF NOT EXISTS custody_until date
                """
            )
        )

    def clear(self, cursor: Cursor) -> None:
        cursor.execute(self._sql("DELETE FROM {schema}.certificate_custody"))

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        change = CUSTODY_CHANGES.get(envelope.type)
        if change is None:
            return
        state, columns = change(envelope.data)
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.certificate_custody (certificate_id, state) "
                "VALUES (%s, %s) ON CONFLICT (certificate_id) DO UPDATE SET state = "
                "coalesce(%s, certificate_custody.state)"
            ),
            (envelope.aggregate_id, state or "in_custody", state),
        )
        for column, value in columns.items():
            cursor.execute(
                self._sql(
                    f"UPDATE {{schema}}.certificate_custody SET {column} = %s "
                    "WHERE certificate_id = %s"
                ),
                (value, envelope.aggregate_id),
            )


def _booked(data: dict) -> tuple[str, dict]:
    return "booked", {
        "starts_at": data["starts_at"],
        "ends_at": data["ends_at"],
        "released_because": None,
    }


def _released(data: dict) -> tuple[str, dict]:
    return "in_custody", {
        "starts_at": None,
        "ends_at": None,
        "released_because": data["reason"],
    }


# Each custody fact: the state it leads to (None: unchanged) and columns it sets.
CUSTODY_CHANGES = {
    "custody_opened": lambda data: ("in_custody", {}),
    "custody_booked": _booked,
    "custody_released": _released,
    "custody_collected": lambda data: ("collected", {}),
    "custody_mail_requested": lambda data: (
        "mail_requested",
        {"ship_by": data["ship_by"]},
    ),
    "custody_shipped": lambda data: (
        "shipped",
        {"tracking_number": data["tracking_number"]},
    ),
    "custody_delivered": lambda data: ("delivered", {}),
    "custody_ending_soon": lambda data: (None, {"days_left": data["days_left"]}),
    "custody_expired": lambda data: ("custody_expired", {}),
    "custody_reissued": lambda data: (
        "in_custody",
        {
            "reissued": True,
            "custody_until": data["custody_until"],
            "starts_at": None,
            "ends_at": None,
            "ship_by": None,
            "tracking_number": None,
            "released_because": None,
            "days_left": None,
        },
    ),
}


class CertificateReissues(OrderedProjection):
    """Where each holder's reissue applications stand, beside their certificates."""

    name = "certificate_reissues"

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            self._sql(
                """
                CREATE TABLE IF NOT EXISTS {schema}.certificate_reissues (
                    application_id uuid PRIMARY KEY,
                    certificate_id text NOT NULL,
                    state text NOT NULL,
                    started_at timestamptz NOT NULL,
                    last_message text,
                    review_due date,
                    period text,
                    sync_due date);
                ALTER TABLE {schema}.certificate_reissues
                    ADD COLUMN IF NOT EXISTS reissued_on date;
                CREATE INDEX IF NOT EXISTS certificate_reissues_certificate
                    ON {schema}.certificate_reissues (certificate_id)
                """
            )
        )

    def clear(self, cursor: Cursor) -> None:
        cursor.execute(self._sql("DELETE FROM {schema}.certificate_reissues"))

    def reissued_on(self, certificate_id: str) -> date | None:
        """When the newest reissue replaced the certificate, if one did."""
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    "SELECT max(reissued_on) FROM {schema}.certificate_reissues "
                    "WHERE certificate_id = %s"
                ),
                (certificate_id,),
            ).fetchone()
        return row[0]

    def approved_for(self, certificate: dict[str, Any]) -> bool:
        """Whether an approved reissue stands behind this certificate (补发)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    "SELECT 1 FROM {schema}.certificate_reissues "
                    "WHERE certificate_id = %s AND state IN "
                    "('approved', 'in_batch', 'arrived', 'synced')"
                ),
                (certificate["certificate_id"],),
            ).fetchone()
        return row is not None

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        if envelope.type == "reissue_started":
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.certificate_reissues (application_id, "
                    "certificate_id, state, started_at) VALUES (%s, %s, 'draft', %s) "
                    "ON CONFLICT DO NOTHING"
                ),
                (
                    envelope.aggregate_id,
                    envelope.data["certificate_id"],
                    envelope.occurred_at,
                ),
            )
            return
        change = REISSUE_CHANGES.get(envelope.type)
        if change is None:
            return
        columns = change(envelope.data)
        assignments = ", ".join(f"{column} = %s" for column in columns)
        cursor.execute(
            self._sql(
                f"UPDATE {{schema}}.certificate_reissues SET {assignments} "
                "WHERE application_id = %s"
            ),
            (*columns.values(), envelope.aggregate_id),
        )


# Each reissue fact the holder's view shows: the columns it sets.
REISSUE_CHANGES = {
    "reissue_submitted": lambda data: {
        "state": "submitted",
        "review_due": data["review_due"],
        "last_message": None,
    },
    "reissue_returned": lambda data: {
        "state": "returned",
        "review_due": None,
        "last_message": data["message"],
    },
    "reissue_approved": lambda data: {
        "state": "approved",
        "review_due": None,
        # An e-certificate replaces the old certificate from its approval on.
        "reissued_on": None
        if data["path"] == "ministry_batch"
        else _beijing_day(data["approved_at"]),
    },
    "reissue_batched": lambda data: {"state": "in_batch", "period": data["period"]},
    "reissue_arrived": lambda data: {"state": "arrived", "sync_due": data["sync_due"]},
    "reissue_synced": lambda data: {
        "state": "synced",
        "sync_due": None,
        "reissued_on": _beijing_day(data["synced_at"]),
    },
    "reissue_withdrawn": lambda data: {"state": "withdrawn", "review_due": None},
}
