"""Sending: each pending delivery goes out once, with back-off when a channel fails.

Replicas share the work: a delivery is claimed for a while (the setting
`XJCERT_NOTIFY_CLAIM_SECONDS`) with `SKIP LOCKED`, so two replicas never send the
same one at once. A delivery that fails
waits longer each time and, after the last allowed attempt or a refusal that
trying again cannot fix, is left as failed for staff and the holder to see.

A replica that dies after the gateway accepted a message but before recording it
sends it again once its claim lapses; the message id travels with it (the SMS
gateway's idempotency key, the e-mail's Message-ID) so the far end can drop the
repeat.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from prometheus_client import Counter
from psycopg import sql
from psycopg_pool import ConnectionPool

from services.common.settings import NotificationSettings
from services.notifications.channels import (
    DeliveryFailed,
    SmsGateway,
    SmtpMailer,
    retry_delay,
)

log = logging.getLogger(__name__)

SENT = Counter("notifications_sent_total", "Messages a channel accepted.", ["channel"])
ATTEMPTS_FAILED = Counter(
    "notifications_attempts_failed_total",
    "Delivery attempts that failed, by whether they will be tried again.",
    ["channel", "outcome"],
)

BATCH = 20


@dataclass(frozen=True)
class Delivery:
    notice_id: uuid.UUID
    channel: str
    address: str
    subject: str | None
    body: str
    attempts: int


class Dispatcher:
    def __init__(
        self,
        pool: ConnectionPool,
        schema: str,
        settings: NotificationSettings,
        sms: SmsGateway | None,
        mailer: SmtpMailer | None,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.settings = settings
        self.senders = {"sms": sms, "email": mailer}

    @property
    def channels(self) -> frozenset[str]:
        """The outside channels configured here; others get no deliveries."""
        return frozenset(name for name, sender in self.senders.items() if sender)

    def send_due(self) -> int:
        """Send what is due now; the number of deliveries tried."""
        due = self._claim()
        for delivery in due:
            self._send(delivery)
        return len(due)

    def _send(self, delivery: Delivery) -> None:
        message_id = f"{delivery.notice_id}.{delivery.channel}"
        try:
            if delivery.channel == "sms":
                self.senders["sms"].send(message_id, delivery.address, delivery.body)
            else:
                self.senders["email"].send(
                    message_id, delivery.address, delivery.subject or "", delivery.body
                )
        except DeliveryFailed as failure:
            self._failed(delivery, failure)
            return
        SENT.labels(delivery.channel).inc()
        self._update(
            delivery,
            "state = 'sent', sent_at = now(), attempts = attempts + 1, "
            "claimed_until = NULL",
        )
        log.info("notice %s sent by %s", delivery.notice_id, delivery.channel)

    def _failed(self, delivery: Delivery, failure: DeliveryFailed) -> None:
        attempt = delivery.attempts + 1
        give_up = failure.permanent or attempt >= self.settings.max_attempts
        outcome = "given_up" if give_up else "retrying"
        ATTEMPTS_FAILED.labels(delivery.channel, outcome).inc()
        log.warning(
            "notice %s by %s: attempt %s failed (%s), %s",
            delivery.notice_id,
            delivery.channel,
            attempt,
            failure.reason,
            outcome,
        )
        if give_up:
            self._update(
                delivery,
                "state = 'failed', attempts = attempts + 1, last_error = %s, "
                "claimed_until = NULL",
                failure.reason,
            )
            return
        delay = retry_delay(attempt, self.settings.retry_base_seconds)
        self._update(
            delivery,
            "attempts = attempts + 1, last_error = %s, claimed_until = NULL, "
            "next_attempt_at = now() + make_interval(secs => %s)",
            failure.reason,
            delay,
        )

    def _claim(self) -> list[Delivery]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                self._sql(
                    """
                    UPDATE {schema}.deliveries d
                    SET claimed_until = now() + make_interval(secs => %s)
                    FROM (SELECT notice_id, channel FROM {schema}.deliveries
                          WHERE state = 'pending' AND next_attempt_at <= now()
                            AND (claimed_until IS NULL OR claimed_until < now())
                          ORDER BY next_attempt_at LIMIT %s
                          FOR UPDATE SKIP LOCKED) due
                    WHERE d.notice_id = due.notice_id AND d.channel = due.channel
                    RETURNING d.notice_id, d.channel, d.address, d.subject, d.body,
                              d.attempts
                    """
                ),
                (self.settings.claim_seconds, BATCH),
            ).fetchall()
        return [Delivery(*row) for row in rows]

    def _update(self, delivery: Delivery, assignments: str, *params: object) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                self._sql(
                    f"UPDATE {{schema}}.deliveries SET {assignments} "
                    "WHERE notice_id = %s AND channel = %s"
                ),
                (*params, delivery.notice_id, delivery.channel),
            )

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(schema=sql.Identifier(self.schema))
