"""Consuming facts: at least once, applied once, never dropped.

`fact_handler` replaces Nameko's event handler, which acknowledges and drops a
message whose handler raised. Here:

- the raw body is checked against its contract before any worker sees it; a
  message that breaks it goes straight to the dead letters with the reason;
- a handler that raises sends the message to the retry queue, which returns it
  after a delay; after the last allowed attempt it goes to the dead letters;
- the original is acknowledged only after the broker confirmed the copy, so a
  crash in between can only duplicate a message, and handlers are idempotent.

Operators list and replay dead letters with `python -m services.common.dead_letters`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from kombu.message import Message
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint, SharedExtension
from nameko.messaging import QueueConsumer

from services.common.amqp import ConfirmingPublisher, OutgoingMessage, PublishFailed
from services.common.envelope import ContractViolation, Envelope, parse_message
from services.common.metrics import spine_metrics
from services.common.topology import (
    ATTEMPTS_HEADER,
    DEAD_AT_HEADER,
    ORIGIN_HEADER,
    REASON_CODE_HEADER,
    REASON_HEADER,
    SUBSCRIPTIONS,
    Subscription,
    kombu_queue,
)

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (
    psycopg.OperationalError,
    StoreOperationalError,
    StoreInterfaceError,
    PublishFailed,
    ConnectionError,
)


class RawQueueConsumer(QueueConsumer):
    """Nameko's queue consumer, but handing over undecoded messages.

    Nameko's own consumer lets kombu decode bodies and drops a message whose
    content type it does not accept; we decode ourselves so that such a message
    reaches the dead letters with its reason.
    """

    def get_consumers(self, consumer_cls, channel):
        for provider in self._providers:
            consumer = consumer_cls(
                queues=[provider.queue],
                on_message=partial(self.handle_raw_message, provider),
            )
            consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()

    def handle_raw_message(self, provider: FactHandler, message: Message) -> None:
        self.container.spawn_managed_thread(
            partial(provider.handle_message, message),
            identifier=f"FactHandler.handle_message[{provider.subscription.queue}]",
        )


class Redirector(SharedExtension):
    """Sends messages on to retry and dead-letter queues, with confirms."""

    def setup(self) -> None:
        self.publisher = ConfirmingPublisher(self.container.config["AMQP_URI"])

    def stop(self) -> None:
        self.publisher.close()

    def send(self, queue: str, message: Message, headers: dict[str, Any]) -> None:
        self.publisher.publish(
            [
                OutgoingMessage(
                    exchange="",
                    routing_key=queue,
                    body=message.body,
                    message_id=message.properties.get("message_id") or "",
                    headers={**(message.headers or {}), **headers},
                )
            ]
        )


class FactHandler(Entrypoint):
    queue_consumer = RawQueueConsumer()
    redirector = Redirector()

    def __init__(self, queue: str, **kwargs: Any) -> None:
        self.subscription: Subscription = SUBSCRIPTIONS[queue]
        super().__init__(**kwargs)

    def setup(self) -> None:
        self.queue = kombu_queue(self.subscription)
        self.max_attempts = self.container.config.get("MAX_DELIVERY_ATTEMPTS", 5)
        self.metrics = spine_metrics(self.container.service_name)
        self.queue_consumer.register_provider(self)

    def stop(self) -> None:
        self.queue_consumer.unregister_provider(self)

    def handle_message(self, message: Message) -> None:
        started = time.monotonic()
        try:
            envelope = parse_message(message.body, message.content_type)
            self._check_addressed_here(envelope)
        except ContractViolation as violation:
            dead_letter = partial(
                self._dead_letter, message, violation.code, violation.reason
            )
            self._settle(message, dead_letter)
            return
        handle_result = partial(self.handle_result, message, started)
        try:
            self.container.spawn_worker(
                self, (envelope,), {}, context_data={}, handle_result=handle_result
            )
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_result(self, message, started, worker_ctx, result=None, exc_info=None):
        queue = self.subscription.queue
        self.metrics.handler_seconds.labels(queue).observe(time.monotonic() - started)
        if exc_info is None:
            # A handler may name its outcome ("duplicate", "parked"); else "applied".
            outcome = result if isinstance(result, str) else "applied"
            self.metrics.consumed.labels(queue, outcome).inc()
            self.queue_consumer.ack_message(message)
        else:
            failure = partial(self._after_failure, message, exc_info[1], worker_ctx)
            self._settle(message, failure)
        return result, exc_info

    def _check_addressed_here(self, envelope: Envelope) -> None:
        # The routing key put the message here; its envelope must agree, or the
        # handler would read data of another shape.
        subscription = self.subscription
        if (
            envelope.producer != subscription.producer
            or envelope.type not in subscription.types
        ):
            raise ContractViolation(
                "unexpected_type",
                f"{envelope.type!r} from {envelope.producer!r} does not belong in "
                f"{subscription.queue}, which takes {', '.join(subscription.types)} "
                f"from {subscription.producer!r}",
            )

    def _settle(self, message: Message, move_on: Callable[[], None]) -> None:
        try:
            move_on()
        except Exception:
            # Could not move the message on; the broker redelivers it instead.
            log.exception(
                "could not move a message from %s on; requeueing",
                self.subscription.queue,
            )
            self.queue_consumer.requeue_message(message)

    def _after_failure(
        self, message: Message, error: BaseException, worker_ctx: Any
    ) -> None:
        if isinstance(error, ContractViolation):
            self._dead_letter(message, error.code, error.reason)
            return
        attempts = int((message.headers or {}).get(ATTEMPTS_HEADER, 0))
        # An outage of the database or broker is no fault of the message: it
        # waits for the outage to end instead of using up its attempts.
        if not isinstance(error, TRANSIENT_ERRORS):
            attempts += 1
        if attempts >= self.max_attempts:
            # Exception texts can quote data; the reason points to the log instead.
            reason = (
                f"{type(error).__name__} on each of {attempts} attempts; the service "
                f"log has the details under call id {worker_ctx.call_id}"
            )
            self._dead_letter(message, "handler_failed", reason, attempts)
            return
        log.warning(
            "handler failed on %s (%s of %s attempts used), retrying: %s",
            self.subscription.queue,
            attempts,
            self.max_attempts,
            type(error).__name__,
        )
        self.redirector.send(
            self.subscription.retry_queue, message, {ATTEMPTS_HEADER: attempts}
        )
        self.metrics.retried.labels(self.subscription.queue).inc()
        self.queue_consumer.ack_message(message)

    def _dead_letter(
        self, message: Message, code: str, reason: str, attempts: int = 1
    ) -> None:
        queue = self.subscription.queue
        log.warning(
            "dead-lettering a message from %s (message id %s): %s",
            queue,
            message.properties.get("message_id"),
            code,
        )
        self.redirector.send(
            self.subscription.dead_letter_queue,
            message,
            {
                ATTEMPTS_HEADER: attempts,
                REASON_CODE_HEADER: code,
                REASON_HEADER: reason,
                DEAD_AT_HEADER: datetime.now(UTC).isoformat(),
                ORIGIN_HEADER: queue,
            },
        )
        self.metrics.dead_lettered.labels(queue, code).inc()
        self.metrics.consumed.labels(queue, "dead_lettered").inc()
        self.queue_consumer.ack_message(message)


fact_handler = FactHandler.decorator
