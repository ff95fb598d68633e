"""The relay: publishes a service's recorded events, in order, from its event store.

A service never dispatches an event by hand after a commit. The relay reads the
notification log after its last published position, publishes a batch with
confirms, and only then records the new position in the same database. Killed
at any instant it loses nothing; it may publish the last batch again, which
consumers drop as duplicates (every event keeps its event id).

Only one relay per service publishes at a time: it holds a PostgreSQL advisory
lock, and a replica without the lock waits to take over.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from psycopg import sql
from psycopg_pool import ConnectionPool

from services.common.amqp import (
    ConfirmingPublisher,
    OutgoingMessage,
    PublishFailed,
    Unroutable,
)
from services.common.envelope import Envelope, stable_event_id
from services.common.metrics import SpineMetrics
from services.common.topology import exchange_name, subscribed_types

log = logging.getLogger(__name__)

# An idle relay wakes when its event store announces a commit (the eventsourcing
# recorder sends NOTIFY with every insert); this is only the longest it waits
# without one, in case an announcement is missed while the lock connection is away.
IDLE_SECONDS = 1.0
BACKOFF_SECONDS = 2.0


@dataclass(frozen=True)
class Publication:
    """What other services see of one internal domain event."""

    type: str
    version: int
    data: dict[str, Any]


Translate = Callable[[DomainEventProtocol], Publication | None]


# Which domain event class is published as which type, with which attributes.
Published = dict[type, tuple[str, tuple[str, ...]]]


def publishing(published: Published) -> Translate:
    """A translation that publishes each listed event's named attributes, as
    version 1 of its type, and nothing else."""

    def translate(domain_event: DomainEventProtocol) -> Publication | None:
        for kind, (event_type, fields) in published.items():
            if isinstance(domain_event, kind):
                data = {name: plain(getattr(domain_event, name)) for name in fields}
                return Publication(event_type, 1, data)
        return None

    return translate


def plain(value: Any) -> Any:
    """A domain event's attribute as JSON: dates as ISO 8601, UUIDs as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class Relay:
    def __init__(
        self,
        app: Application,
        producer: str,
        translate: Translate,
        publisher: ConfirmingPublisher,
        pool: ConnectionPool,
        metrics: SpineMetrics,
        batch_size: int = 500,
    ) -> None:
        self.app = app
        self.producer = producer
        self.translate = translate
        self.publisher = publisher
        self.pool = pool
        self.metrics = metrics
        self.batch_size = batch_size
        self.schema: str = app.recorder.datastore.schema  # type: ignore[attr-defined]
        # The channel the recorder NOTIFYs on when it inserts events.
        self.channel: str = app.recorder.channel_name  # type: ignore[attr-defined]
        self.subscribed = subscribed_types(producer)
        self._stopping = False

    def setup(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {schema}.relay_position ("
                    " producer text PRIMARY KEY, position bigint NOT NULL)"
                )
            )
            conn.execute(
                self._sql(
                    "INSERT INTO {schema}.relay_position VALUES (%s, 0) "
                    "ON CONFLICT DO NOTHING"
                ),
                (self.producer,),
            )

    def stop(self) -> None:
        self._stopping = True

    def run(self) -> None:
        """Publish until stopped, holding the service's relay lock meanwhile."""
        while not self._stopping:
            try:
                with psycopg.connect(self.pool.conninfo, autocommit=True) as lock_conn:
                    if self._take_lock(lock_conn):
                        self._publish_while_leader(lock_conn)
                    else:
                        time.sleep(BACKOFF_SECONDS)
            except Unroutable as error:
                # A missing queue is a deployment fault: nothing is lost (the
                # event stays in the log), but someone must declare the queue.
                log.error("relay of %s is stuck: %s", self.producer, error)
                time.sleep(BACKOFF_SECONDS)
            except (PublishFailed, psycopg.OperationalError) as error:
                log.warning("relay of %s will retry: %s", self.producer, error)
                time.sleep(BACKOFF_SECONDS)
            except Exception:
                log.exception("relay of %s failed; retrying", self.producer)
                time.sleep(BACKOFF_SECONDS)

    def publish_pending(self) -> int:
        """Publish the next batch after the recorded position; return its size."""
        position = self.position()
        notifications = self.app.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            self.metrics.relay_lag.set(0)
            return 0
        messages = [
            message
            for notification in notifications
            if (message := self._message(notification)) is not None
        ]
        try:
            self.publisher.publish(messages)
        except Unroutable as error:
            self.metrics.unroutable.labels(error.routing_key).inc()
            raise
        self._save_position(notifications[-1].id)
        for message in messages:
            self.metrics.published.labels(message.routing_key).inc()
        self._update_lag(notifications[-1].id)
        return len(notifications)

    def position(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                self._sql(
                    "SELECT position FROM {schema}.relay_position WHERE producer = %s"
                ),
                (self.producer,),
            ).fetchone()
        return row[0] if row else 0

    def _publish_while_leader(self, lock_conn: psycopg.Connection) -> None:
        log.info("relay of %s is publishing", self.producer)
        lock_conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        while not self._stopping:
            lock_conn.execute("SELECT 1")  # notice a lost lock connection early
            if self.publish_pending() < self.batch_size:
                self._wait_for_commits(lock_conn)

    def _wait_for_commits(self, lock_conn: psycopg.Connection) -> None:
        """Until the event store announces new events, or IDLE_SECONDS at most.

        Announcements that came while the relay was publishing are kept by the
        connection and end this wait at once, so none is slept through.
        """
        for _ in lock_conn.notifies(timeout=IDLE_SECONDS, stop_after=1):
            pass

    def _take_lock(self, conn: psycopg.Connection) -> bool:
        row = conn.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (f"relay:{self.schema}",)
        ).fetchone()
        return bool(row and row[0])

    def _message(self, notification: Any) -> OutgoingMessage | None:
        domain_event = self.app.mapper.to_domain_event(notification)
        envelope = envelope_for(domain_event, self.producer, self.translate)
        if envelope is None or envelope.type not in self.subscribed:
            return None
        return OutgoingMessage(
            exchange=exchange_name(self.producer),
            routing_key=envelope.type,
            body=envelope.to_json(),
            message_id=str(envelope.event_id),
        )

    def _save_position(self, position: int) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                self._sql(
                    "UPDATE {schema}.relay_position "
                    "SET position = GREATEST(position, %s) WHERE producer = %s"
                ),
                (position, self.producer),
            )

    def _update_lag(self, position: int) -> None:
        newest = self.app.recorder.max_notification_id() or 0
        self.metrics.relay_lag.set(max(0, newest - position))

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(schema=sql.Identifier(self.schema))


def envelope_for(
    domain_event: DomainEventProtocol, producer: str, translate: Translate
) -> Envelope | None:
    """The public message for a recorded event, or None if it stays internal."""
    publication = translate(domain_event)
    if publication is None:
        return None
    return Envelope(
        event_id=stable_event_id(
            producer, domain_event.originator_id, domain_event.originator_version
        ),
        type=publication.type,
        version=publication.version,
        occurred_at=domain_event.timestamp,
        producer=producer,
        aggregate_id=str(domain_event.originator_id),
        aggregate_version=domain_event.originator_version,
        data=publication.data,
    )
