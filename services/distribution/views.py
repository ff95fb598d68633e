"""Distribution's read models: bookings, mail orders and custody, for staff and sweeps.

Fed over RabbitMQ from distribution's own published events, applied in version order
per aggregate (see `OrderedProjection`). The counter, the shipping list and the
periodic sweeps (no-shows, custody reminders) query these tables.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from psycopg import Cursor
from psycopg.rows import dict_row

from services.common.envelope import Envelope
from services.common.projection import OrderedProjection


class DistributionViews(OrderedProjection):
    name = "distribution_views"

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(
            self._sql(
                """
                CREATE TABLE IF NOT EXISTS {schema}.custody (
                    certificate_id uuid PRIMARY KEY,
                    certificate_number text NOT NULL,
                    holder_id_number text NOT NULL,
                    holder_name text NOT NULL,
                    custody_until date NOT NULL,
                    state text NOT NULL,
                    reminded integer[] NOT NULL DEFAULT '{{}}');
                CREATE INDEX IF NOT EXISTS custody_until
                    ON {schema}.custody (state, custody_until);
                CREATE TABLE IF NOT EXISTS {schema}.bookings (
                    booking_id uuid PRIMARY KEY,
                    account_id uuid NOT NULL,
                    certificate_numbers text[] NOT NULL,
                    starts_at timestamptz NOT NULL,
                    ends_at timestamptz NOT NULL,
                    state text NOT NULL,
                    proxy_name text,
                    proxy_id_number_ends_with text,
                    collected_by text);
                CREATE INDEX IF NOT EXISTS bookings_window
                    ON {schema}.bookings (state, starts_at);
                CREATE TABLE IF NOT EXISTS {schema}.mail_orders (
                    order_id uuid PRIMARY KEY,
                    account_id uuid NOT NULL,
                    certificate_numbers text[] NOT NULL,
                    recipient text NOT NULL,
                    mobile text NOT NULL,
                    address jsonb NOT NULL,
                    ship_by date NOT NULL,
                    requested_at timestamptz NOT NULL,
                    tracking_number text,
                    carrier text,
                    shipped_at timestamptz,
                    delivered boolean NOT NULL DEFAULT false);
                CREATE INDEX IF NOT EXISTS mail_orders_tracking
                    ON {schema}.mail_orders (tracking_number)
                """
            )
        )

    def clear(self, cursor: Cursor) -> None:
        for table in ("custody", "bookings", "mail_orders"):
            cursor.execute(self._sql(f"DELETE FROM {{schema}}.{table}"))

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        handler = getattr(self, f"_{envelope.type}", None)
        if handler is not None:
            handler(cursor, uuid.UUID(envelope.aggregate_id), envelope)

    # --- queries ------------------------------------------------------------------

    def bookings_on(self, day: date) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT b.*, c.holder_name, c.holder_id_number "
            "FROM {schema}.bookings b JOIN {schema}.custody c "
            "ON c.certificate_number = b.certificate_numbers[1] "
            "WHERE (b.starts_at AT TIME ZONE 'Asia/Shanghai')::date = %s "
            "ORDER BY b.starts_at, b.booking_id",
            day,
        )

    def seats_taken(self, first: date, last: date) -> dict[datetime, int]:
        """Seats held per window start, from `first` up to (not including) `last`."""
        rows = self._rows(
            "SELECT starts_at, count(*) AS taken FROM {schema}.bookings "
            "WHERE state IN ('booked', 'collected') "
            "AND (starts_at AT TIME ZONE 'Asia/Shanghai')::date >= %s "
            "AND (starts_at AT TIME ZONE 'Asia/Shanghai')::date < %s "
            "GROUP BY starts_at",
            first,
            last,
        )
        return {row["starts_at"]: row["taken"] for row in rows}

    def bookings_of(self, account_id: uuid.UUID) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT * FROM {schema}.bookings WHERE account_id = %s "
            "ORDER BY starts_at DESC",
            account_id,
        )

    def lapsed_bookings(self, now: datetime) -> list[uuid.UUID]:
        rows = self._rows(
            "SELECT booking_id FROM {schema}.bookings "
            "WHERE state = 'booked' AND ends_at <= %s",
            now,
        )
        return [row["booking_id"] for row in rows]

    def booked_on(self, day: date) -> list[uuid.UUID]:
        rows = self._rows(
            "SELECT booking_id FROM {schema}.bookings WHERE state = 'booked' "
            "AND (starts_at AT TIME ZONE 'Asia/Shanghai')::date = %s",
            day,
        )
        return [row["booking_id"] for row in rows]

    def days_with_bookings(self, now: datetime) -> list[date]:
        """Days ahead on which someone holds a booking."""
        rows = self._rows(
            "SELECT DISTINCT (starts_at AT TIME ZONE 'Asia/Shanghai')::date AS day "
            "FROM {schema}.bookings WHERE state = 'booked' AND starts_at > %s",
            now,
        )
        return [row["day"] for row in rows]

    def mail_orders_of(self, account_id: uuid.UUID) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT * FROM {schema}.mail_orders WHERE account_id = %s "
            "ORDER BY requested_at DESC",
            account_id,
        )

    def unshipped_orders(self) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT * FROM {schema}.mail_orders WHERE tracking_number IS NULL "
            "ORDER BY ship_by, requested_at"
        )

    def order_with_tracking(self, tracking_number: str) -> uuid.UUID | None:
        rows = self._rows(
            "SELECT order_id FROM {schema}.mail_orders WHERE tracking_number = %s",
            tracking_number,
        )
        return rows[0]["order_id"] if rows else None

    def custody_to_watch(self, today: date, reminder_days: int) -> list[uuid.UUID]:
        """Kept certificates whose custody ends within `reminder_days`, or has ended."""
        rows = self._rows(
            "SELECT certificate_id FROM {schema}.custody "
            "WHERE state = 'in_custody' AND custody_until <= %s",
            date.fromordinal(today.toordinal() + reminder_days),
        )
        return [row["certificate_id"] for row in rows]

    def _rows(self, query: str, *params: Any) -> list[dict[str, Any]]:
        with (
            self.pool.connection() as conn,
            conn.cursor(row_factory=dict_row) as cursor,
        ):
            cursor.execute(self._sql(query), params)
            return cursor.fetchall()

    # --- custody ------------------------------------------------------------------

    def _custody_opened(self, cursor: Cursor, aggregate_id, envelope) -> None:
        data = envelope.data
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.custody VALUES (%s, %s, %s, %s, %s, "
                "'in_custody') ON CONFLICT DO NOTHING"
            ),
            (
                aggregate_id,
                data["certificate_number"],
                data["holder_id_number"],
                data["holder_name"],
                data["custody_until"],
            ),
        )

    def _custody_state(self, cursor: Cursor, aggregate_id, state: str) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.custody SET state = %s WHERE certificate_id = %s"
            ),
            (state, aggregate_id),
        )

    def _custody_booked(self, cursor, aggregate_id, envelope) -> None:
        self._custody_state(cursor, aggregate_id, "booked")

    def _custody_released(self, cursor, aggregate_id, envelope) -> None:
        self._custody_state(cursor, aggregate_id, "in_custody")

    def _custody_collected(self, cursor, aggregate_id, envelope) -> None:
        self._custody_state(cursor, aggregate_id, "collected")

    def _custody_mail_requested(self, cursor, aggregate_id, envelope) -> None:
        self._custody_state(cursor, aggregate_id, "mail_requested")

    def _custody_shipped(self, cursor, aggregate_id, envelope) -> None:
        self._custody_state(cursor, aggregate_id, "shipped")

    def _custody_delivered(self, cursor, aggregate_id, envelope) -> None:
        self._custody_state(cursor, aggregate_id, "delivered")

    def _custody_expired(self, cursor, aggregate_id, envelope) -> None:
        self._custody_state(cursor, aggregate_id, "custody_expired")

    def _custody_reissued(self, cursor, aggregate_id, envelope) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.custody SET state = 'in_custody', "
                "custody_until = %s, reminded = '{{}}' WHERE certificate_id = %s"
            ),
            (envelope.data["custody_until"], aggregate_id),
        )

    def _custody_ending_soon(self, cursor, aggregate_id, envelope) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.custody SET reminded = reminded || %s "
                "WHERE certificate_id = %s"
            ),
            (envelope.data["days_left"], aggregate_id),
        )

    # --- bookings -----------------------------------------------------------------

    def _booking_made(self, cursor, aggregate_id, envelope) -> None:
        data = envelope.data
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.bookings (booking_id, account_id, "
                "certificate_numbers, starts_at, ends_at, state) "
                "VALUES (%s, %s, %s, %s, %s, 'booked') ON CONFLICT DO NOTHING"
            ),
            (
                aggregate_id,
                data["account_id"],
                data["certificate_numbers"],
                data["starts_at"],
                data["ends_at"],
            ),
        )

    def _booking_moved(self, cursor, aggregate_id, envelope) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.bookings SET starts_at = %s, ends_at = %s "
                "WHERE booking_id = %s"
            ),
            (envelope.data["starts_at"], envelope.data["ends_at"], aggregate_id),
        )

    def _booking_state(self, cursor, aggregate_id, state: str, **more: Any) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.bookings SET state = %s, "
                "collected_by = coalesce(%s, collected_by) WHERE booking_id = %s"
            ),
            (state, more.get("collected_by"), aggregate_id),
        )

    def _booking_cancelled(self, cursor, aggregate_id, envelope) -> None:
        self._booking_state(cursor, aggregate_id, "cancelled")

    def _booking_lapsed(self, cursor, aggregate_id, envelope) -> None:
        self._booking_state(cursor, aggregate_id, "lapsed")

    def _booking_handed_over(self, cursor, aggregate_id, envelope) -> None:
        collected_by = envelope.data["collected_by"]
        self._booking_state(
            cursor, aggregate_id, "collected", collected_by=collected_by
        )

    def _booking_proxy_named(self, cursor, aggregate_id, envelope) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.bookings SET proxy_name = %s, "
                "proxy_id_number_ends_with = %s WHERE booking_id = %s"
            ),
            (
                envelope.data["name"],
                envelope.data["id_number_ends_with"],
                aggregate_id,
            ),
        )

    # --- mail ---------------------------------------------------------------------

    def _mail_requested(self, cursor, aggregate_id, envelope) -> None:
        data = envelope.data
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.mail_orders (order_id, account_id, "
                "certificate_numbers, recipient, mobile, address, ship_by, "
                "requested_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING"
            ),
            (
                aggregate_id,
                data["account_id"],
                data["certificate_numbers"],
                data["recipient"],
                data["mobile"],
                json.dumps(data["address"], ensure_ascii=False),
                data["ship_by"],
                envelope.occurred_at,
            ),
        )

    def _mail_edited(self, cursor, aggregate_id, envelope) -> None:
        data = envelope.data
        cursor.execute(
            self._sql(
                "UPDATE {schema}.mail_orders SET recipient = %s, mobile = %s, "
                "address = %s WHERE order_id = %s"
            ),
            (
                data["recipient"],
                data["mobile"],
                json.dumps(data["address"], ensure_ascii=False),
                aggregate_id,
            ),
        )

    def _mail_shipped(self, cursor, aggregate_id, envelope) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.mail_orders SET tracking_number = %s, carrier = %s, "
                "shipped_at = %s WHERE order_id = %s"
            ),
            (
                envelope.data["tracking_number"],
                envelope.data["carrier"],
                envelope.occurred_at,
                aggregate_id,
            ),
        )

    def _mail_order_delivered(self, cursor, aggregate_id, envelope) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.mail_orders SET delivered = true WHERE order_id = %s"
            ),
            (aggregate_id,),
        )
