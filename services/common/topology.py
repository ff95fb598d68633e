"""The broker topology: every exchange, queue and binding the product relies on.

Every service declares all of it before it publishes or consumes anything, so a
fact published before its consumers ever started still finds its queue. Consumer
queues are quorum queues with a delivery limit: a message that kills its consumer
again and again ends in the dead letters instead of looping forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kombu import Exchange, Queue, binding

from services.common.settings import DEFAULT_HTTP_PORTS

# Systems that publish facts into the event log; each owns "<producer>.events".
PRODUCERS = (
    "exam_authority",
    "ministry",
    "industry_authority",
    "health_commission",
    "identity",
    "certificates",
    "reissue",
    "distribution",
    "notifications",
    "postal_service",
)

# Redeliveries a quorum queue allows before it dead-letters a message on its own.
# Handler failures are counted by the consumer (see consuming.py); this limit only
# catches messages whose handling crashes the whole process.
DELIVERY_LIMIT = 20

# How long a failed message waits before its next attempt. Part of the retry
# queue's declared arguments, so changing it means deleting those queues first.
RETRY_DELAY_MS = 2000

# Headers a consumer adds when it sends a message on to a retry or dead-letter queue.
ATTEMPTS_HEADER = "x-xjcert-attempts"
REASON_CODE_HEADER = "x-xjcert-dead-reason-code"
REASON_HEADER = "x-xjcert-dead-reason"
DEAD_AT_HEADER = "x-xjcert-dead-at"
ORIGIN_HEADER = "x-xjcert-origin"


def exchange_name(producer: str) -> str:
    return f"{producer}.events"


@dataclass(frozen=True)
class Subscription:
    """A queue of one consumer, bound to the event types it handles."""

    queue: str
    producer: str
    types: tuple[str, ...]

    @property
    def exchange(self) -> str:
        return exchange_name(self.producer)

    @property
    def retry_queue(self) -> str:
        return f"{self.queue}.retry"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dead"


# Every event of an aggregate that a contiguous read model follows must reach it.
CERTIFICATE_TYPES = (
    "certificate_registered",
    "ecert_authority_signed",
    "ecert_centre_signed",
    "certificate_revoked",
    "certificate_printed",
)
CUSTODY_TYPES = (
    "custody_opened",
    "custody_reissued",
    "custody_booked",
    "custody_released",
    "custody_collected",
    "custody_mail_requested",
    "custody_shipped",
    "custody_delivered",
    "custody_ending_soon",
    "custody_expired",
)
BOOKING_TYPES = (
    "booking_made",
    "booking_moved",
    "booking_cancelled",
    "booking_lapsed",
    "booking_proxy_named",
    "booking_handed_over",
)
MAIL_ORDER_TYPES = (
    "mail_requested",
    "mail_edited",
    "mail_shipped",
    "mail_order_delivered",
)

APPLICATION_TYPES = (
    "reissue_started",
    "reissue_reason_changed",
    "reissue_material_attached",
    "reissue_material_removed",
    "reissue_submitted",
    "reissue_returned",
    "reissue_approved",
    "reissue_batched",
    "reissue_arrived",
    "reissue_synced",
    "reissue_withdrawn",
)

SUBSCRIPTIONS: dict[str, Subscription] = {
    subscription.queue: subscription
    for subscription in (
        Subscription(
            queue="certificates.exam_results",
            producer="exam_authority",
            types=("results_published",),
        ),
        Subscription(
            queue="certificates.read_model",
            producer="certificates",
            types=CERTIFICATE_TYPES,
        ),
        Subscription(
            queue="certificates.industry_signatures",
            producer="industry_authority",
            types=("ecert_signed",),
        ),
        Subscription(
            queue="certificates.health_signatures",
            producer="health_commission",
            types=("ecert_signed",),
        ),
        Subscription(
            queue="certificates.printed",
            producer="ministry",
            types=("certificates_printed",),
        ),
        Subscription(
            queue="certificates.reissue",
            producer="reissue",
            types=APPLICATION_TYPES,
        ),
        Subscription(
            queue="certificates.accounts",
            producer="identity",
            types=("real_name_verified",),
        ),
        Subscription(
            queue="certificates.custody",
            producer="distribution",
            types=CUSTODY_TYPES,
        ),
        Subscription(
            queue="distribution.certificates",
            producer="certificates",
            types=("certificate_registered",),
        ),
        Subscription(
            queue="distribution.accounts",
            producer="identity",
            types=("real_name_verified",),
        ),
        Subscription(
            queue="distribution.views",
            producer="distribution",
            types=CUSTODY_TYPES + BOOKING_TYPES + MAIL_ORDER_TYPES,
        ),
        Subscription(
            queue="distribution.postal",
            producer="postal_service",
            types=("mail_delivered",),
        ),
        Subscription(
            queue="distribution.reissue",
            producer="reissue",
            types=("reissue_synced",),
        ),
        Subscription(
            queue="reissue.certificates",
            producer="certificates",
            types=CERTIFICATE_TYPES,
        ),
        Subscription(
            queue="reissue.custody",
            producer="distribution",
            types=CUSTODY_TYPES,
        ),
        Subscription(
            queue="reissue.accounts",
            producer="identity",
            types=("real_name_verified",),
        ),
        Subscription(
            queue="reissue.views",
            producer="reissue",
            types=APPLICATION_TYPES,
        ),
        Subscription(
            queue="reissue.ministry_batches",
            producer="ministry",
            types=("batch_arrived",),
        ),
        # Notifications follows every aggregate whose facts concern a holder,
        # in order, so each fact finds who it is for.
        Subscription(
            queue="notifications.accounts",
            producer="identity",
            types=("applicant_registered", "real_name_verified"),
        ),
        Subscription(
            queue="notifications.certificates",
            producer="certificates",
            types=CERTIFICATE_TYPES,
        ),
        Subscription(
            queue="notifications.distribution",
            producer="distribution",
            types=CUSTODY_TYPES + BOOKING_TYPES + MAIL_ORDER_TYPES,
        ),
        Subscription(
            queue="notifications.reissue",
            producer="reissue",
            types=APPLICATION_TYPES,
        ),
        Subscription(
            queue="notifications.views",
            producer="notifications",
            types=("notification_channels_chosen", "deadline_overdue"),
        ),
        # Every service that answers HTTP refuses the access tokens of ended
        # sessions: each keeps its own record of them (see session_ends.py).
        *(
            Subscription(
                queue=f"{service}.sessions",
                producer="identity",
                types=("sessions_ended",),
            )
            for service in DEFAULT_HTTP_PORTS
        ),
        # The ministry's own inbox: each closed monthly batch, for it to print.
        Subscription(
            queue="ministry.reissue_batches",
            producer="reissue",
            types=("reissue_batch_closed",),
        ),
    )
}


def subscribed_types(producer: str) -> frozenset[str]:
    """Event types of a producer that some queue is bound for.

    The relay publishes only these: a type nobody subscribes to would be returned
    as unroutable. A consumer that subscribes later gets facts from then on, and
    rebuilds older ones from the producer's event store.
    """
    return frozenset(
        event_type
        for subscription in SUBSCRIPTIONS.values()
        if subscription.producer == producer
        for event_type in subscription.types
    )


def consumer_queue_arguments(subscription: Subscription) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": subscription.dead_letter_queue,
        # At-least-once dead-lettering needs publishers refused, not messages
        # dropped, when a queue is full.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def retry_queue_arguments(subscription: Subscription) -> dict[str, Any]:
    # Nothing consumes a retry queue: messages wait out the delay, then expire
    # back into the consumer's queue through the default exchange.
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": RETRY_DELAY_MS,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": subscription.queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def dead_letter_queue_arguments() -> dict[str, Any]:
    return {"x-queue-type": "quorum"}


def kombu_queue(subscription: Subscription) -> Queue:
    """The consumer's queue, with exactly the arguments the topology declares."""
    exchange = Exchange(subscription.exchange, type="topic", durable=True)
    return Queue(
        subscription.queue,
        bindings=[binding(exchange, routing_key=key) for key in subscription.types],
        queue_arguments=consumer_queue_arguments(subscription),
        durable=True,
        auto_delete=False,
    )


def declare_topology(channel: Any) -> None:
    """Declare everything on a py-amqp channel; safe to repeat."""
    for producer in PRODUCERS:
        channel.exchange_declare(
            exchange_name(producer), "topic", durable=True, auto_delete=False
        )
    for subscription in SUBSCRIPTIONS.values():
        _declare_subscription(channel, subscription)


def _declare_subscription(channel: Any, subscription: Subscription) -> None:
    channel.queue_declare(
        subscription.dead_letter_queue,
        durable=True,
        auto_delete=False,
        arguments=dead_letter_queue_arguments(),
    )
    channel.queue_declare(
        subscription.retry_queue,
        durable=True,
        auto_delete=False,
        arguments=retry_queue_arguments(subscription),
    )
    channel.queue_declare(
        subscription.queue,
        durable=True,
        auto_delete=False,
        arguments=consumer_queue_arguments(subscription),
    )
    for event_type in subscription.types:
        channel.queue_bind(subscription.queue, subscription.exchange, event_type)
