"""The relay against real PostgreSQL and RabbitMQ, without Nameko around it."""

from __future__ import annotations

import json
import threading

import pytest
from prometheus_client import CollectorRegistry

from services.certificates.application import CertificatesApplication, publication
from services.common import relay as relay_module
from services.common.amqp import (
    ConfirmingPublisher,
    PublishFailed,
    Unroutable,
    open_connection,
)
from services.common.db import ensure_schema, open_pool
from services.common.eventstore import event_store_env
from services.common.metrics import spine_metrics
from services.common.relay import Relay
from services.common.topology import declare_topology
from tests.support.certificates import registered
from tests.support.infrastructure import eventually


@pytest.fixture
def relay_parts(settings):
    pool = open_pool(settings.database, max_size=2)
    ensure_schema(pool, "certificates")
    app = CertificatesApplication(env=event_store_env(settings, "certificates"))
    publisher = ConfirmingPublisher(settings.amqp_uri)

    def make_relay(batch_size: int = 500) -> Relay:
        relay = Relay(
            app=app,
            producer="certificates",
            translate=publication,
            publisher=publisher,
            pool=pool,
            metrics=spine_metrics("relay_test", CollectorRegistry()),
            batch_size=batch_size,
        )
        relay.setup()
        return relay

    yield app, make_relay
    publisher.close()
    app.close()
    pool.close()


class Killed(Exception):
    pass


def killed(position: int) -> None:
    raise Killed


def drain(amqp_uri: str, queue: str) -> list[dict]:
    connection = open_connection(amqp_uri)
    channel = connection.channel()
    bodies = []
    while (message := channel.basic_get(queue, no_ack=True)) is not None:
        bodies.append(json.loads(message.body))
    connection.close()
    return bodies


def declare(amqp_uri: str) -> None:
    connection = open_connection(amqp_uri)
    declare_topology(connection.channel())
    connection.close()


def test_relay_publishes_in_recorded_order_and_remembers_where_it_stopped(
    settings, relay_parts
):
    app, make_relay = relay_parts
    declare(settings.amqp_uri)
    app.save(*[registered(f"N-{i:04d}") for i in range(25)])
    relay = make_relay(batch_size=10)

    published = [relay.publish_pending() for _ in range(4)]

    assert published == [10, 10, 5, 0]
    assert relay.position() == app.recorder.max_notification_id()
    bodies = drain(settings.amqp_uri, "certificates.read_model")
    assert [b["data"]["certificate_number"] for b in bodies] == [
        f"N-{i:04d}" for i in range(25)
    ]
    assert all(b["aggregate_version"] == 1 for b in bodies)


def test_a_relay_restarted_before_saving_its_position_republishes_same_ids(
    settings, relay_parts
):
    app, make_relay = relay_parts
    declare(settings.amqp_uri)
    app.save(registered("N-0001"), registered("N-0002"))
    first = make_relay()
    first._save_position = killed  # dies after the confirms, before saving
    with pytest.raises(Killed):
        first.publish_pending()

    make_relay().publish_pending()

    bodies = drain(settings.amqp_uri, "certificates.read_model")
    ids = [b["event_id"] for b in bodies]
    assert len(ids) == 4
    assert ids[:2] == ids[2:]


def test_an_event_without_a_bound_queue_is_an_error_and_stays_unpublished(
    settings, relay_parts
):
    app, make_relay = relay_parts
    app.save(registered("N-0001"))  # no topology declared: nothing is bound
    connection = open_connection(settings.amqp_uri)
    connection.channel().exchange_declare(
        "certificates.events", "topic", durable=True, auto_delete=False
    )
    connection.close()
    relay = make_relay()

    with pytest.raises(Unroutable):
        relay.publish_pending()

    assert relay.position() == 0


def test_the_publisher_recovers_after_its_connection_is_cut(settings, relay_parts):
    app, make_relay = relay_parts
    declare(settings.amqp_uri)
    relay = make_relay()
    app.save(registered("N-0001"))
    relay.publish_pending()
    relay.publisher._connection.sock.close()  # the network drops under it
    app.save(registered("N-0002"))

    with pytest.raises(PublishFailed):
        relay.publish_pending()
    relay.publish_pending()

    numbers = [
        b["data"]["certificate_number"]
        for b in drain(settings.amqp_uri, "certificates.read_model")
    ]
    assert numbers == ["N-0001", "N-0002"]


def test_an_idle_relay_publishes_at_the_commit_not_at_its_next_look(
    settings, relay_parts, monkeypatch
):
    """The relay waits on the event store's NOTIFY; its timer is only a fallback.

    With the fallback an hour long, a fact saved while the relay idles is
    published all the same, which a relay that only polled would not do.
    """
    app, make_relay = relay_parts
    declare(settings.amqp_uri)
    monkeypatch.setattr(relay_module, "IDLE_SECONDS", 3600)
    relay = make_relay()
    app.save(registered("N-0001"))
    running = threading.Thread(target=relay.run, daemon=True)
    running.start()
    eventually(lambda: relay.position() > 0, what="the first fact published")
    bodies = drain(settings.amqp_uri, "certificates.read_model")

    app.save(registered("N-0002"))

    eventually(
        lambda: (
            bodies.extend(drain(settings.amqp_uri, "certificates.read_model"))
            or len(bodies) == 2
        ),
        timeout=30,
        what="the second fact published while the relay idled",
    )
    relay.stop()
    app.save(registered("N-0003"))  # wakes it to see that it is stopping
    running.join(timeout=30)
    assert [b["data"]["certificate_number"] for b in bodies] == ["N-0001", "N-0002"]
    assert not running.is_alive()
