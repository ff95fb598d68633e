from datetime import date
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from services.certificates.application import publication
from services.certificates.catalogue import qualification
from services.certificates.domain import Certificate
from services.common.topology import (
    PRODUCERS,
    SUBSCRIPTIONS,
    consumer_queue_arguments,
    declare_topology,
    exchange_name,
    kombu_queue,
    retry_queue_arguments,
)

ALL_SUBSCRIPTIONS = pytest.mark.parametrize(
    "subscription", SUBSCRIPTIONS.values(), ids=list(SUBSCRIPTIONS)
)


class RecordingChannel:
    """Stands in for a py-amqp channel and remembers what was declared."""

    def __init__(self) -> None:
        self.exchanges: set[str] = set()
        self.queues: dict[str, dict[str, Any]] = {}
        self.bindings: list[tuple[str, str, str]] = []

    def exchange_declare(self, name: str, kind: str, **_: Any) -> None:
        self.exchanges.add(name)

    def queue_declare(self, name: str, arguments: dict[str, Any], **_: Any) -> None:
        self.queues[name] = arguments

    def queue_bind(self, queue: str, exchange: str, routing_key: str) -> None:
        assert queue in self.queues, f"{queue} bound before it was declared"
        self.bindings.append((queue, exchange, routing_key))


def certificate_events() -> list[Any]:
    events = []
    for code, level, place in [
        ("economist", "中级", "xinjiang"),
        ("constructor", "二级", "xinjiang"),
        ("nurse", "初级", "xpcc"),
    ]:
        certificate = Certificate.register(
            certificate_number=f"2025-{code}-000001",
            holder_id_number="650102199308052190",
            holder_name="古丽",
            qualification=qualification(code),
            level=level,
            specialty=None,
            exam_session_id="2025",
            exam_end_date=date(2025, 11, 9),
            registration_place=place,
        )
        events.extend(certificate.collect_events())
    return events


def test_every_type_the_certificates_publish_is_bound_to_a_subscription():
    bound = {
        event_type
        for subscription in SUBSCRIPTIONS.values()
        if subscription.producer == "certificates"
        for event_type in subscription.types
    }

    published = {publication(event).type for event in certificate_events()}

    assert published
    assert published <= bound


def test_events_of_other_aggregates_stay_internal():
    (event,) = Aggregate().collect_events()

    published = publication(event)

    assert published is None


@ALL_SUBSCRIPTIONS
def test_every_subscription_listens_to_a_known_producer(subscription):
    assert subscription.producer in PRODUCERS


@ALL_SUBSCRIPTIONS
def test_the_kombu_queue_has_the_declared_arguments_and_bindings(subscription):
    queue = kombu_queue(subscription)

    assert queue.name == subscription.queue
    assert queue.queue_arguments == consumer_queue_arguments(subscription)
    assert {(b.exchange.name, b.routing_key) for b in queue.bindings} == {
        (subscription.exchange, key) for key in subscription.types
    }


@ALL_SUBSCRIPTIONS
def test_a_consumer_queue_dead_letters_into_its_own_dead_letter_queue(subscription):
    arguments = consumer_queue_arguments(subscription)

    assert arguments["x-dead-letter-exchange"] == ""
    assert arguments["x-dead-letter-routing-key"] == subscription.dead_letter_queue


@ALL_SUBSCRIPTIONS
def test_a_retry_queue_dead_letters_back_to_its_own_queue(subscription):
    arguments = retry_queue_arguments(subscription)

    assert arguments["x-dead-letter-exchange"] == ""
    assert arguments["x-dead-letter-routing-key"] == subscription.queue
    assert arguments["x-message-ttl"] > 0


def test_declaring_the_topology_declares_every_exchange_queue_and_binding():
    channel = RecordingChannel()

    declare_topology(channel)

    assert channel.exchanges == {exchange_name(p) for p in PRODUCERS}
    for subscription in SUBSCRIPTIONS.values():
        assert channel.queues[subscription.queue] == consumer_queue_arguments(
            subscription
        )
        assert channel.queues[subscription.retry_queue] == retry_queue_arguments(
            subscription
        )
        assert subscription.dead_letter_queue in channel.queues
        for key in subscription.types:
            assert (subscription.queue, subscription.exchange, key) in (
                channel.bindings
            )
