"""Notifications' read model: who each fact is for, and what they are told.

Each fact is turned into its notices in the same transaction that records it as
applied (see `OrderedProjection`), so a fact delivered twice, replayed from the
dead letters or arriving after a restart adds nothing: a notice's id is derived
from the fact, and each channel's delivery is a row that is sent once.

The projections follow the aggregates of other services in order, keeping just
enough of each (whose booking, which certificate) to address later facts, and
track every committed deadline from the fact that starts it to the fact that
meets it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg import Cursor
from psycopg.rows import dict_row

from services.common.envelope import Envelope
from services.common.projection import OrderedProjection, Outcome
from services.common.workdays import BEIJING, WorkingCalendar
from services.notifications.deadlines import COMMITMENTS, DEADLINES_TABLE, DeadlineKind
from services.notifications.domain import NAMESPACE
from services.notifications.templates import Templates

WEEKDAYS = "一二三四五六日"

# Facts older than this reach the inbox but are not texted or e-mailed: a message
# about something long past (a history republished for a new subscriber, a queue
# drained after an outage) confuses more than it helps.
STALE_AFTER = timedelta(days=2)

CANCEL_REASONS = {
    "cancelled_by_holder": "您已取消该预约",
    "day_closed": "中心当天暂停办理",
}

TABLES = """
CREATE TABLE IF NOT EXISTS {schema}.recipients (
    account_id uuid PRIMARY KEY,
    mobile text,
    id_number text,
    choice_id uuid UNIQUE,
    sms boolean NOT NULL DEFAULT true,
    email text);
CREATE INDEX IF NOT EXISTS recipients_id_number ON {schema}.recipients (id_number);
CREATE TABLE IF NOT EXISTS {schema}.notices (
    notice_id uuid PRIMARY KEY,
    account_id uuid,
    role text,
    kind text NOT NULL,
    title text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    CHECK ((account_id IS NULL) <> (role IS NULL)));
-- A holder's notice keeps its texts until it can be addressed: see address_notices.
ALTER TABLE {schema}.notices
    ADD COLUMN IF NOT EXISTS fact_at timestamptz,
    ADD COLUMN IF NOT EXISTS sms_text text,
    ADD COLUMN IF NOT EXISTS email_subject text,
    ADD COLUMN IF NOT EXISTS email_body text;
CREATE INDEX IF NOT EXISTS notices_account ON {schema}.notices (account_id, created_at);
CREATE INDEX IF NOT EXISTS notices_role ON {schema}.notices (role, created_at);
CREATE TABLE IF NOT EXISTS {schema}.deliveries (
    notice_id uuid NOT NULL REFERENCES {schema}.notices,
    channel text NOT NULL,
    address text NOT NULL,
    subject text,
    body text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,
    last_error text,
    sent_at timestamptz,
    PRIMARY KEY (notice_id, channel));
CREATE INDEX IF NOT EXISTS deliveries_due ON {schema}.deliveries (next_attempt_at)
    WHERE state = 'pending';
-- Every channel choice with its time: a notice goes out on the choice in force
-- when its fact happened, whenever the two facts are handled.
CREATE TABLE IF NOT EXISTS {schema}.channel_choices (
    account_id uuid NOT NULL,
    chosen_at timestamptz NOT NULL,
    sms boolean NOT NULL,
    email text,
    PRIMARY KEY (account_id, chosen_at));
-- Choices recorded before this table existed count from the beginning.
INSERT INTO {schema}.channel_choices
    SELECT account_id, '-infinity', sms, email FROM {schema}.recipients
    WHERE choice_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM {schema}.channel_choices);
CREATE TABLE IF NOT EXISTS {schema}.reminders (
    booking_id uuid PRIMARY KEY,
    account_id uuid NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    remind_at timestamptz,
    state text NOT NULL);
CREATE INDEX IF NOT EXISTS reminders_due ON {schema}.reminders (remind_at)
    WHERE state = 'scheduled';
CREATE TABLE IF NOT EXISTS {schema}.known_certificates (
    certificate_id uuid PRIMARY KEY,
    certificate_number text NOT NULL,
    holder_id_number text NOT NULL,
    qualification_name text NOT NULL,
    kind text NOT NULL);
CREATE INDEX IF NOT EXISTS known_certificates_number
    ON {schema}.known_certificates (certificate_number);
CREATE TABLE IF NOT EXISTS {schema}.custody (
    custody_id uuid PRIMARY KEY,
    certificate_number text NOT NULL,
    holder_id_number text NOT NULL,
    custody_until date NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.mail_orders (
    order_id uuid PRIMARY KEY,
    account_id uuid NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.applications (
    application_id uuid PRIMARY KEY,
    account_id uuid NOT NULL,
    certificate_number text NOT NULL,
    qualification_name text NOT NULL);
"""


def notice_id(fact_id: uuid.UUID | str, kind: str, recipient: Any) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{fact_id}:{kind}:{recipient}")


def window_text(starts_at: datetime, ends_at: datetime) -> str:
    """How a pickup window reads in a message: 12月8日（星期二）10:00–10:30."""
    start, end = starts_at.astimezone(BEIJING), ends_at.astimezone(BEIJING)
    return (
        f"{start.month}月{start.day}日（星期{WEEKDAYS[start.weekday()]}）"
        f"{start:%H:%M}–{end:%H:%M}"
    )


def reminder_time(
    booked_at: datetime, starts_at: datetime, hour: int
) -> datetime | None:
    """When to remind a holder of an appointment: the day before, at `hour`.

    Booked after that moment, they are reminded at once; booked for the same
    day, they need no reminder.
    """
    booked, start = booked_at.astimezone(BEIJING), starts_at.astimezone(BEIJING)
    if start.date() <= booked.date():
        return None
    remind_at = datetime.combine(start.date() - timedelta(days=1), time(hour), BEIJING)
    return max(remind_at, booked)


class Notices(OrderedProjection):
    """Base of the projections that tell people things; the service sets
    `templates` and `reminder_hour` before any fact arrives."""

    templates: Templates
    reminder_hour: int = 10
    # Outside channels configured in this deployment; the inbox always is.
    channels: frozenset[str] = frozenset()
    calendar: WorkingCalendar

    def create_tables(self, cursor: Cursor) -> None:
        cursor.execute(self._sql(TABLES))
        cursor.execute(self._sql(DEADLINES_TABLE))

    def clear(self, cursor: Cursor) -> None:
        raise NotImplementedError(
            "notices are not rebuilt: a rebuild would tell everyone everything again"
        )

    # --- telling ------------------------------------------------------------------

    def tell_holder(
        self,
        cursor: Cursor,
        fact: Envelope | str,
        account_id: Any,
        kind: str,
        **params: Any,
    ) -> None:
        """The holder's inbox, and each channel they chose, once per fact.

        `fact` is the fact being told, or the id of a scheduled one (a reminder).
        A fact older than `STALE_AFTER` goes to the inbox only.
        """
        message = self.templates.render(kind, _texts(params))
        if isinstance(fact, Envelope):
            fact_id, fact_at = fact.event_id, fact.occurred_at
        else:
            fact_id, fact_at = fact, datetime.now(UTC)
        notice = notice_id(fact_id, kind, account_id)
        self._hold_recipient(cursor, account_id)
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.notices (notice_id, account_id, kind, title, "
                "body, fact_at, sms_text, email_subject, email_body) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING RETURNING notice_id"
            ),
            (
                notice,
                account_id,
                kind,
                message.title,
                message.inbox,
                fact_at,
                message.sms,
                message.email_subject,
                message.email_body,
            ),
        )
        if cursor.fetchone() is not None:
            self.address_notices(cursor, account_id, notice)

    def address_notices(
        self, cursor: Cursor, account_id: Any, notice: uuid.UUID | None = None
    ) -> None:
        """Queue the texts and e-mails that the account's notices should have.

        Facts reach this service on several queues, so a holder's booking can be
        handled before the account fact that gives their mobile number, or before
        the channel choice they made earlier. Whichever is handled second
        addresses the notice: telling calls this for the new notice, and
        recording a mobile number or a choice calls it for all of the account's
        notices. A notice goes out on the channels chosen when its fact happened
        (text only, by default) while its fact is not stale, and each delivery
        exists once. A delivery queued before an earlier choice was known that
        turns its channel off is withdrawn, unless it is already being sent.
        """
        self._hold_recipient(cursor, account_id)
        params = {
            "account": account_id,
            "notice": notice,
            "fresh": datetime.now(UTC) - STALE_AFTER,
        }
        for channel in sorted(self.channels & CHANNEL_WANTED.keys()):
            if notice is None:
                cursor.execute(self._sql(_withdraw_sql(channel)), params)
            cursor.execute(self._sql(_queue_sql(channel)), params)

    def _hold_recipient(self, cursor: Cursor, account_id: Any) -> None:
        """Serialise telling and addressing one account until the transaction ends.

        Without it, a notice told while its recipient's mobile is being recorded
        could be seen by neither transaction, and never be texted.
        """
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            (f"recipient:{self.schema}:{account_id}",),
        )

    def tell_staff(
        self, cursor: Cursor, envelope: Envelope, role: str, kind: str, **params: Any
    ) -> None:
        message = self.templates.render(kind, _texts(params))
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.notices (notice_id, role, kind, title, body) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ),
            (
                notice_id(envelope.event_id, kind, role),
                role,
                kind,
                message.title,
                message.inbox,
            ),
        )

    def account_of_holder(self, cursor: Cursor, id_number: str) -> uuid.UUID | None:
        cursor.execute(
            self._sql(
                "SELECT account_id FROM {schema}.recipients WHERE id_number = %s"
            ),
            (id_number,),
        )
        row = cursor.fetchone()
        return row[0] if row else None

    def qualification_of(self, cursor: Cursor, certificate_number: str) -> str:
        cursor.execute(
            self._sql(
                "SELECT qualification_name FROM {schema}.known_certificates "
                "WHERE certificate_number = %s"
            ),
            (certificate_number,),
        )
        row = cursor.fetchone()
        return row[0] if row else "专业技术人员资格"

    # --- deadlines ----------------------------------------------------------------

    def start_deadline(
        self,
        cursor: Cursor,
        deadline_id: uuid.UUID,
        kind: DeadlineKind,
        subject_id: Any,
        reference: str,
        started_at: datetime,
        due_on: date,
    ) -> None:
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.deadlines (deadline_id, kind, subject_id, "
                "reference, started_at, due_on) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING"
            ),
            (deadline_id, kind.value, subject_id, reference, started_at, due_on),
        )

    def end_deadlines(
        self,
        cursor: Cursor,
        kind: DeadlineKind,
        subject_id: Any,
        at: datetime,
        how: str = "met_at",
    ) -> None:
        """Meet (or cancel) the subject's open deadline of this kind."""
        assert how in {"met_at", "cancelled_at"}
        cursor.execute(
            self._sql(
                f"UPDATE {{schema}}.deadlines SET {how} = %s WHERE kind = %s "
                "AND subject_id = %s AND met_at IS NULL AND cancelled_at IS NULL"
            ),
            (at, kind.value, subject_id),
        )


# When a notice of an account should go out on a channel, and from what columns.
# `choice` is the holder's choice in force when the notice's fact happened.
CHANNEL_WANTED = {
    "sms": "coalesce(choice.sms, true) AND r.mobile IS NOT NULL",
    "email": "choice.email IS NOT NULL",
}
CHANNEL_COLUMNS = {
    "sms": "r.mobile, NULL, n.sms_text",
    "email": "choice.email, n.email_subject, n.email_body",
}
ADDRESSABLE_NOTICES = """
    {schema}.notices n JOIN {schema}.recipients r USING (account_id)
    LEFT JOIN LATERAL (
        SELECT c.sms, c.email FROM {schema}.channel_choices c
        WHERE c.account_id = n.account_id AND c.chosen_at <= n.fact_at
        ORDER BY c.chosen_at DESC LIMIT 1) choice ON true
"""
OF_THE_ACCOUNT = """
    n.account_id = %(account)s AND n.fact_at >= %(fresh)s
    AND (%(notice)s::uuid IS NULL OR n.notice_id = %(notice)s)
"""


def _queue_sql(channel: str) -> str:
    return (
        "INSERT INTO {schema}.deliveries (notice_id, channel, address, subject, body) "
        f"SELECT n.notice_id, '{channel}', {CHANNEL_COLUMNS[channel]} "
        f"FROM {ADDRESSABLE_NOTICES} WHERE {OF_THE_ACCOUNT} "
        f"AND {CHANNEL_WANTED[channel]} ON CONFLICT DO NOTHING"
    )


def _withdraw_sql(channel: str) -> str:
    return (
        f"DELETE FROM {{schema}}.deliveries d USING {ADDRESSABLE_NOTICES} "
        f"WHERE d.notice_id = n.notice_id AND {OF_THE_ACCOUNT} "
        f"AND d.channel = '{channel}' AND NOT ({CHANNEL_WANTED[channel]}) "
        "AND d.state = 'pending' AND d.attempts = 0 "
        "AND (d.claimed_until IS NULL OR d.claimed_until < now())"
    )


def _texts(params: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in params.items()}


def _moment(raw: str) -> datetime:
    return datetime.fromisoformat(raw)


def _day(raw: str) -> date:
    return date.fromisoformat(raw)


class Recipients(Notices):
    """Each holder's mobile number and ID number, from identity's facts.

    Each fact sets its own columns, so their order does not matter and a fact
    seen again changes nothing: no version tracking is needed. A mobile number
    recorded after some of the holder's notices were told lets them be texted.
    """

    name = "recipients"

    def handle_in(self, cursor: Cursor, envelope: Envelope) -> Outcome:
        self.apply(cursor, envelope)
        return Outcome.APPLIED

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        data = envelope.data
        column, value = {
            "applicant_registered": ("mobile", data.get("mobile")),
            "real_name_verified": ("id_number", data.get("id_number")),
        }[envelope.type]
        cursor.execute(
            self._sql(
                f"INSERT INTO {{schema}}.recipients (account_id, {column}) "
                f"VALUES (%s, %s) ON CONFLICT (account_id) DO UPDATE "
                f"SET {column} = EXCLUDED.{column}"
            ),
            (data["account_id"], value),
        )
        if column == "mobile":
            self.address_notices(cursor, data["account_id"])


class OwnFacts(Notices):
    """Notifications' own facts: holders' channel choices and missed deadlines."""

    name = "own_facts"

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        data = envelope.data
        if envelope.type == "notification_channels_chosen":
            self._record_choice(cursor, envelope)
        elif envelope.type == "deadline_overdue":
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.deadlines SET overdue_flagged_at = %s "
                    "WHERE deadline_id = %s"
                ),
                (_moment(data["flagged_at"]), envelope.aggregate_id),
            )
            commitment = COMMITMENTS[DeadlineKind(data["kind"])]
            self.tell_staff(
                cursor,
                envelope,
                commitment.role,
                "deadline_overdue",
                deadline=commitment.label,
                reference=data["reference"],
                due_on=data["due_on"],
            )

    def _record_choice(self, cursor: Cursor, envelope: Envelope) -> None:
        """The holder's latest choice, and the choice with its time.

        Only a holder's first choice names its account; later ones name the
        choice. Notices of facts after this choice that were told before it was
        handled are addressed now.
        """
        data = envelope.data
        if "account_id" in data:
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.recipients (account_id, choice_id, sms, "
                    "email) VALUES (%s, %s, %s, %s) ON CONFLICT (account_id) DO "
                    "UPDATE SET choice_id = EXCLUDED.choice_id, sms = "
                    "EXCLUDED.sms, email = EXCLUDED.email RETURNING account_id"
                ),
                (data["account_id"], envelope.aggregate_id, data["sms"], data["email"]),
            )
        else:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.recipients SET sms = %s, email = %s "
                    "WHERE choice_id = %s RETURNING account_id"
                ),
                (data["sms"], data["email"], envelope.aggregate_id),
            )
        row = cursor.fetchone()
        if row is None:
            return
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.channel_choices VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING"
            ),
            (row[0], envelope.occurred_at, data["sms"], data["email"]),
        )
        self.address_notices(cursor, row[0])


class CertificateFacts(Notices):
    """Certificates' facts: electronic certificates ready, the centre's signature."""

    name = "certificate_facts"

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        data, certificate_id = envelope.data, envelope.aggregate_id
        if envelope.type == "certificate_registered":
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.known_certificates VALUES "
                    "(%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                ),
                (
                    certificate_id,
                    data["certificate_number"],
                    data["holder_id_number"],
                    data["qualification_name"],
                    data["kind"],
                ),
            )
        elif envelope.type == "ecert_authority_signed":
            if data["centre_sign_by"] is None:  # health: downloadable at once
                self._tell_downloadable(cursor, envelope)
            else:
                number, _ = self._certificate(cursor, certificate_id)
                self.start_deadline(
                    cursor,
                    notice_id(envelope.event_id, "deadline", "centre_signature"),
                    DeadlineKind.CENTRE_SIGNATURE,
                    certificate_id,
                    number,
                    _moment(data["signed_at"]),
                    _day(data["centre_sign_by"]),
                )
        elif envelope.type == "certificate_revoked":
            # Nothing is left to sign.
            self.end_deadlines(
                cursor,
                DeadlineKind.CENTRE_SIGNATURE,
                certificate_id,
                envelope.occurred_at,
                how="cancelled_at",
            )
        elif envelope.type == "ecert_centre_signed":
            self.end_deadlines(
                cursor,
                DeadlineKind.CENTRE_SIGNATURE,
                certificate_id,
                _moment(data["signed_at"]),
            )
            self._tell_downloadable(cursor, envelope)

    def _tell_downloadable(self, cursor: Cursor, envelope: Envelope) -> None:
        number, holder = self._certificate(cursor, envelope.aggregate_id)
        account = self.account_of_holder(cursor, holder)
        if account is not None:
            self.tell_holder(
                cursor,
                envelope,
                account,
                "ecert_downloadable",
                certificate_number=number,
                qualification_name=self.qualification_of(cursor, number),
            )

    def _certificate(self, cursor: Cursor, certificate_id: str) -> tuple[str, str]:
        cursor.execute(
            self._sql(
                "SELECT certificate_number, holder_id_number "
                "FROM {schema}.known_certificates WHERE certificate_id = %s"
            ),
            (certificate_id,),
        )
        return cursor.fetchone()


class DistributionFacts(Notices):
    """Custody, bookings and mail: claimable, appointments, shipped, custody ending."""

    name = "distribution_facts"

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        handler = getattr(self, f"_{envelope.type}", None)
        if handler is not None:
            handler(cursor, envelope, envelope.data)

    # custody

    def _custody_opened(self, cursor: Cursor, envelope: Envelope, data: dict) -> None:
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.custody VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING"
            ),
            (
                envelope.aggregate_id,
                data["certificate_number"],
                data["holder_id_number"],
                data["custody_until"],
            ),
        )
        opened_on = envelope.occurred_at.astimezone(BEIJING).date()
        # A reissued certificate is announced by its `custody_reissued`, which
        # follows. Custody that ended before it was recorded (an old exam's
        # certificate on record late) is not claimable: distribution expires it.
        if not data["reissued"] and _day(data["custody_until"]) >= opened_on:
            self._tell_custody(cursor, envelope, "certificate_claimable")

    def _custody_reissued(self, cursor: Cursor, envelope: Envelope, data: dict) -> None:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.custody SET custody_until = %s WHERE custody_id = %s"
            ),
            (data["custody_until"], envelope.aggregate_id),
        )
        self._tell_custody(cursor, envelope, "certificate_claimable")

    def _custody_ending_soon(
        self, cursor: Cursor, envelope: Envelope, data: dict
    ) -> None:
        self._tell_custody(
            cursor, envelope, "custody_ending_soon", days_left=data["days_left"]
        )

    def _custody_expired(self, cursor: Cursor, envelope: Envelope, data: dict) -> None:
        self._tell_custody(cursor, envelope, "custody_expired")

    def _tell_custody(
        self, cursor: Cursor, envelope: Envelope, kind: str, **params: Any
    ) -> None:
        cursor.execute(
            self._sql(
                "SELECT certificate_number, holder_id_number, custody_until "
                "FROM {schema}.custody WHERE custody_id = %s"
            ),
            (envelope.aggregate_id,),
        )
        number, holder, custody_until = cursor.fetchone()
        account = self.account_of_holder(cursor, holder)
        if account is not None:
            self.tell_holder(
                cursor,
                envelope,
                account,
                kind,
                certificate_number=number,
                qualification_name=self.qualification_of(cursor, number),
                custody_until=custody_until.isoformat(),
                **params,
            )

    # bookings

    def _booking_made(self, cursor: Cursor, envelope: Envelope, data: dict) -> None:
        starts_at, ends_at = _moment(data["starts_at"]), _moment(data["ends_at"])
        self._schedule(cursor, envelope, data["account_id"], starts_at, ends_at)
        self.tell_holder(
            cursor,
            envelope,
            data["account_id"],
            "appointment_booked",
            window=window_text(starts_at, ends_at),
        )

    def _booking_moved(self, cursor: Cursor, envelope: Envelope, data: dict) -> None:
        account = self._booking_account(cursor, envelope.aggregate_id)
        starts_at, ends_at = _moment(data["starts_at"]), _moment(data["ends_at"])
        self._schedule(cursor, envelope, account, starts_at, ends_at)
        self.tell_holder(
            cursor,
            envelope,
            account,
            "appointment_moved",
            window=window_text(starts_at, ends_at),
        )

    def _booking_cancelled(
        self, cursor: Cursor, envelope: Envelope, data: dict
    ) -> None:
        account = self._booking_account(cursor, envelope.aggregate_id)
        starts_at, ends_at = self._end_reminder(cursor, envelope.aggregate_id)
        self.tell_holder(
            cursor,
            envelope,
            account,
            "appointment_cancelled",
            window=window_text(starts_at, ends_at),
            reason=CANCEL_REASONS.get(data["reason"], "预约已取消"),
        )

    def _booking_lapsed(self, cursor: Cursor, envelope: Envelope, data: dict) -> None:
        self._end_reminder(cursor, envelope.aggregate_id)

    def _booking_handed_over(
        self, cursor: Cursor, envelope: Envelope, data: dict
    ) -> None:
        self._end_reminder(cursor, envelope.aggregate_id)

    def _schedule(
        self,
        cursor: Cursor,
        envelope: Envelope,
        account_id: Any,
        starts_at: datetime,
        ends_at: datetime,
    ) -> None:
        """(Re)schedule the booking's reminder for its (new) window."""
        remind_at = reminder_time(envelope.occurred_at, starts_at, self.reminder_hour)
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.reminders VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (booking_id) DO UPDATE SET starts_at = EXCLUDED.starts_at,"
                " ends_at = EXCLUDED.ends_at, remind_at = EXCLUDED.remind_at, "
                "state = EXCLUDED.state"
            ),
            (
                envelope.aggregate_id,
                account_id,
                starts_at,
                ends_at,
                remind_at,
                "scheduled" if remind_at else "not_needed",
            ),
        )

    def _end_reminder(
        self, cursor: Cursor, booking_id: str
    ) -> tuple[datetime, datetime]:
        cursor.execute(
            self._sql(
                "UPDATE {schema}.reminders SET state = CASE WHEN state = 'scheduled' "
                "THEN 'cancelled' ELSE state END WHERE booking_id = %s "
                "RETURNING starts_at, ends_at"
            ),
            (booking_id,),
        )
        return cursor.fetchone()

    def _booking_account(self, cursor: Cursor, booking_id: str) -> uuid.UUID:
        cursor.execute(
            self._sql(
                "SELECT account_id FROM {schema}.reminders WHERE booking_id = %s"
            ),
            (booking_id,),
        )
        return cursor.fetchone()[0]

    # mail

    def _mail_requested(self, cursor: Cursor, envelope: Envelope, data: dict) -> None:
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.mail_orders VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING"
            ),
            (envelope.aggregate_id, data["account_id"]),
        )
        self.start_deadline(
            cursor,
            notice_id(envelope.aggregate_id, "deadline", "mail_shipment"),
            DeadlineKind.MAIL_SHIPMENT,
            envelope.aggregate_id,
            envelope.aggregate_id,
            envelope.occurred_at,
            _day(data["ship_by"]),
        )

    def _mail_shipped(self, cursor: Cursor, envelope: Envelope, data: dict) -> None:
        self.end_deadlines(
            cursor,
            DeadlineKind.MAIL_SHIPMENT,
            envelope.aggregate_id,
            envelope.occurred_at,
        )
        cursor.execute(
            self._sql(
                "SELECT account_id FROM {schema}.mail_orders WHERE order_id = %s"
            ),
            (envelope.aggregate_id,),
        )
        self.tell_holder(
            cursor,
            envelope,
            cursor.fetchone()[0],
            "mail_shipped",
            carrier=data["carrier"],
            tracking_number=data["tracking_number"],
        )


class ReissueFacts(Notices):
    """Reissue applications: returned, approved, batched; review and sync clocks."""

    name = "reissue_facts"

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        data, application_id = envelope.data, envelope.aggregate_id
        kind = envelope.type
        if kind == "reissue_started":
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.applications VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING"
                ),
                (
                    application_id,
                    data["account_id"],
                    data["certificate_number"],
                    data["qualification_name"],
                ),
            )
            return
        account, number, qualification = self._application(cursor, application_id)
        about = {"certificate_number": number, "qualification_name": qualification}
        if kind == "reissue_submitted":
            self.start_deadline(
                cursor,
                notice_id(envelope.event_id, "deadline", "review"),
                DeadlineKind.REVIEW,
                application_id,
                number,
                _moment(data["submitted_at"]),
                _day(data["review_due"]),
            )
        elif kind == "reissue_returned":
            at = _moment(data["returned_at"])
            self.end_deadlines(cursor, DeadlineKind.REVIEW, application_id, at)
            self.tell_holder(
                cursor, envelope, account, kind, message=data["message"], **about
            )
        elif kind == "reissue_approved":
            at = _moment(data["approved_at"])
            self.end_deadlines(cursor, DeadlineKind.REVIEW, application_id, at)
            self.tell_holder(cursor, envelope, account, kind, **about)
        elif kind == "reissue_withdrawn":
            self.end_deadlines(
                cursor,
                DeadlineKind.REVIEW,
                application_id,
                envelope.occurred_at,
                how="cancelled_at",
            )
        elif kind == "reissue_batched":
            self.tell_holder(
                cursor, envelope, account, kind, period=data["period"], **about
            )
        elif kind == "reissue_arrived":
            self.start_deadline(
                cursor,
                notice_id(application_id, "deadline", "reissue_sync"),
                DeadlineKind.REISSUE_SYNC,
                application_id,
                number,
                _moment(data["arrived_at"]),
                _day(data["sync_due"]),
            )
        elif kind == "reissue_synced":
            self.end_deadlines(
                cursor,
                DeadlineKind.REISSUE_SYNC,
                application_id,
                _moment(data["synced_at"]),
            )

    def _application(self, cursor: Cursor, application_id: str) -> tuple:
        cursor.execute(
            self._sql(
                "SELECT account_id, certificate_number, qualification_name "
                "FROM {schema}.applications WHERE application_id = %s"
            ),
            (application_id,),
        )
        return cursor.fetchone()


class NoticeQueries(Notices):
    """What the HTTP API and the scheduled jobs read and change directly."""

    name = "notice_queries"

    def apply(self, cursor: Cursor, envelope: Envelope) -> None:
        raise NotImplementedError("queries follow no facts")

    def inbox(self, account_id: uuid.UUID, limit: int = 100) -> list[dict]:
        return self._rows(
            """
            SELECT n.notice_id, n.kind, n.title, n.body, n.created_at, n.read_at,
                   coalesce(jsonb_object_agg(d.channel, d.state)
                            FILTER (WHERE d.channel IS NOT NULL), '{{}}') AS channels
            FROM {schema}.notices n
            LEFT JOIN {schema}.deliveries d USING (notice_id)
            WHERE n.account_id = %s
            GROUP BY n.notice_id ORDER BY n.created_at DESC, n.notice_id LIMIT %s
            """,
            account_id,
            limit,
        )

    def staff_notices(self, roles: frozenset[str], limit: int = 100) -> list[dict]:
        return self._rows(
            "SELECT notice_id, role, kind, title, body, created_at, read_at "
            "FROM {schema}.notices WHERE role = ANY(%s) "
            "ORDER BY created_at DESC, notice_id LIMIT %s",
            sorted(roles),
            limit,
        )

    def mark_read(
        self, notice: uuid.UUID, account_id: uuid.UUID | None, roles: frozenset[str]
    ) -> bool:
        """Mark a notice read if it is the caller's (or their role's)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    "UPDATE {schema}.notices SET read_at = coalesce(read_at, now()) "
                    "WHERE notice_id = %s AND (account_id = %s OR role = ANY(%s)) "
                    "RETURNING notice_id"
                ),
                (notice, account_id, sorted(roles)),
            ).fetchone()
        return row is not None

    def open_deadlines(self, kind: str | None = None) -> list[dict]:
        return self._rows(
            "SELECT deadline_id, kind, subject_id, reference, started_at, due_on, "
            "overdue_flagged_at FROM {schema}.deadlines WHERE met_at IS NULL AND "
            "cancelled_at IS NULL AND (%s::text IS NULL OR kind = %s) "
            "ORDER BY due_on, started_at",
            kind,
            kind,
        )

    def overdue_unflagged(self, today: date) -> list[dict]:
        return self._rows(
            "SELECT deadline_id, kind, subject_id, reference, due_on "
            "FROM {schema}.deadlines WHERE met_at IS NULL AND cancelled_at IS NULL "
            "AND due_on < %s AND overdue_flagged_at IS NULL",
            today,
        )

    def overdue_counts(self, today: date) -> dict[str, int]:
        rows = self._rows(
            "SELECT kind, count(*) AS n FROM {schema}.deadlines WHERE met_at IS NULL "
            "AND cancelled_at IS NULL AND due_on < %s GROUP BY kind",
            today,
        )
        return {row["kind"]: row["n"] for row in rows}

    def deliveries(self, state: str, limit: int = 200) -> list[dict]:
        return self._rows(
            "SELECT d.notice_id, n.kind, d.channel, d.state, d.attempts, "
            "d.last_error, d.next_attempt_at, d.sent_at, n.created_at "
            "FROM {schema}.deliveries d JOIN {schema}.notices n USING (notice_id) "
            "WHERE d.state = %s ORDER BY n.created_at DESC LIMIT %s",
            state,
            limit,
        )

    def reminders_of(self, account_id: uuid.UUID) -> list[dict]:
        return self._rows(
            "SELECT booking_id, starts_at, ends_at, remind_at, state "
            "FROM {schema}.reminders WHERE account_id = %s ORDER BY starts_at",
            account_id,
        )

    def send_due_reminders(self, now: datetime) -> int:
        """Tell holders of tomorrow's appointments; each reminder once."""
        with self.pool.connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.reminders SET state = 'sent' WHERE booking_id IN "
                    "(SELECT booking_id FROM {schema}.reminders WHERE state = "
                    "'scheduled' AND remind_at <= %s FOR UPDATE SKIP LOCKED) "
                    "RETURNING booking_id, account_id, starts_at, ends_at"
                ),
                (now,),
            )
            due = cursor.fetchall()
            for booking_id, account_id, starts_at, ends_at in due:
                self.tell_holder(
                    cursor,
                    f"{booking_id}:{starts_at.isoformat()}",
                    account_id,
                    "appointment_tomorrow",
                    window=window_text(starts_at, ends_at),
                )
        return len(due)

    def _rows(self, query: str, *params: Any) -> list[dict]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(self._sql(query), params)
            return cur.fetchall()
