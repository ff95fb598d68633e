"""docs/asyncapi.yaml stays true to the topology, the contracts and the code."""

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from services.certificates.application import publication
from services.certificates.catalogue import qualification
from services.certificates.domain import Certificate
from services.certificates.results import read_results
from services.common.auth import Role
from services.common.envelope import Envelope, parse_message, stable_event_id
from services.common.id_numbers import document_kind
from services.common.relay import envelope_for
from services.common.settings import DEFAULT_HTTP_PORTS, load_settings
from services.common.topology import (
    PRODUCERS,
    SUBSCRIPTIONS,
    consumer_queue_arguments,
    exchange_name,
    subscribed_types,
)
from services.common.workdays import BEIJING, WorkingCalendar
from services.distribution.application import MAIL_DEADLINE_WORKING_DAYS
from services.distribution.domain import Booking, Custody, MailOrder, PickupRules
from services.distribution.publication import publication as distribution
from services.identity import application as identity
from services.identity.domain import Account

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
# Our own services each have an HTTP port; every other producer is an outside system.
OUR_SERVICES = frozenset(DEFAULT_HTTP_PORTS)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


def channel_binding(document: dict[str, Any], routing_key: str) -> dict[str, Any]:
    assert routing_key in document["channels"], f"no channel for {routing_key}"
    return document["channels"][routing_key]["bindings"]["amqp"]


def channel_of(producer: str, routing_key: str) -> str:
    """The channel a producer's routing key is documented under.

    A channel is named after its routing key; where several producers publish the
    same routing key, each on its own exchange, `<exchange>/<routing key>`.
    """
    producers = {s.producer for s in SUBSCRIPTIONS.values() if routing_key in s.types}
    if len(producers) > 1:
        return f"{exchange_name(producer)}/{routing_key}"
    return routing_key


def routing_key_of(channel: str) -> str:
    return channel.rpartition("/")[2]


def messages(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for routing_key, channel in document["channels"].items():
        for operation in ("publish", "subscribe"):
            if operation in channel:
                yield routing_key, channel[operation]["message"]


def example_payloads(document: dict[str, Any], routing_key: str) -> list[dict]:
    found = [
        example["payload"]
        for key, message in messages(document)
        if key == routing_key
        for example in message.get("examples", [])
    ]
    assert found, f"no example payload for {routing_key}"
    return found


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def payload_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """The documented payload schema, its relative $refs read from disk."""

    def retrieve(uri: str) -> Resource:
        path = Path(uri.removeprefix("file://"))
        return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))

    rooted = {"$id": DOCUMENT.as_uri(), **schema}
    return Draft202012Validator(rooted, registry=Registry(retrieve=retrieve))


def parsed(payload: dict[str, Any]) -> Envelope:
    return parse_message(
        json.dumps(payload, ensure_ascii=False).encode(), "application/json"
    )


def producer_of(message: dict[str, Any]) -> str:
    return message["payload"]["allOf"][1]["properties"]["producer"]["const"]


def test_the_document_is_asyncapi_2_6_over_amqp_0_9_1(document):
    servers = document["servers"].values()

    assert document["asyncapi"] == "2.6.0"
    assert {(s["protocol"], s["protocolVersion"]) for s in servers} == {
        ("amqp", "0-9-1")
    }


@pytest.mark.parametrize(
    ("queue", "routing_key"),
    [(s.queue, key) for s in SUBSCRIPTIONS.values() for key in s.types],
)
def test_every_subscription_is_a_channel_with_its_queue(document, queue, routing_key):
    subscription = SUBSCRIPTIONS[queue]

    binding = channel_binding(document, channel_of(subscription.producer, routing_key))
    queues = {q["name"]: q for q in binding["x-consumer-queues"]}

    assert binding["is"] == "routingKey"
    assert binding["exchange"]["name"] == subscription.exchange
    assert binding["exchange"]["type"] == "topic"
    assert binding["exchange"]["durable"] is True
    assert queue in queues
    assert queues[queue]["type"] == "quorum"
    assert queues[queue]["arguments"] == consumer_queue_arguments(subscription)
    assert queues[queue]["retryQueue"] == subscription.retry_queue
    assert queues[queue]["deadLetterQueue"] == subscription.dead_letter_queue


def test_every_channel_is_on_a_declared_exchange_with_a_declared_queue(document):
    declared = {
        (s.exchange, key, s.queue) for s in SUBSCRIPTIONS.values() for key in s.types
    }
    exchanges = {exchange_name(producer) for producer in PRODUCERS}

    for routing_key in document["channels"]:
        binding = channel_binding(document, routing_key)
        exchange = binding["exchange"]["name"]
        assert exchange in exchanges, routing_key
        for queue in binding["x-consumer-queues"]:
            key = routing_key_of(routing_key)
            assert (exchange, key, queue["name"]) in declared, routing_key


def test_messages_are_persistent_confirmed_json(document):
    for routing_key, channel in document["channels"].items():
        for operation in ("publish", "subscribe"):
            if operation not in channel:
                continue
            amqp = channel[operation]["bindings"]["amqp"]
            message = channel[operation]["message"]
            assert amqp["deliveryMode"] == 2, routing_key
            assert amqp["mandatory"] is True, routing_key
            assert message["contentType"] == "application/json", routing_key


def test_every_ref_names_an_existing_json_file(document):
    found = list(refs(document))

    assert found
    for ref in found:
        path, _, fragment = ref.partition("#")
        assert path, f"{ref} is not a file reference"
        target = (DOCUMENT.parent / path).resolve()
        assert target.is_file(), f"{ref} points at no file"
        try:
            json.loads(target.read_text(encoding="utf-8"))
        except ValueError as error:
            pytest.fail(f"{ref} is not valid JSON: {error}")
        assert not fragment, f"{ref}: fragments are not used here"


def test_every_payload_refers_to_the_envelope_and_its_types_contract(document):
    for routing_key, message in messages(document):
        envelope_ref, data_part = message["payload"]["allOf"]
        producer = data_part["properties"]["producer"]["const"]
        version = data_part["properties"]["version"]["const"]

        assert envelope_ref["$ref"].endswith("/envelope.v1.json")
        assert data_part["properties"]["type"]["const"] == routing_key_of(routing_key)
        assert data_part["properties"]["data"]["$ref"].endswith(
            f"/{producer}.{routing_key_of(routing_key)}.v{version}.json"
        )


def test_every_example_fits_its_documented_payload_schema(document):
    for routing_key, message in messages(document):
        validator = payload_validator(message["payload"])
        for example in message.get("examples", []):
            errors = [e.message for e in validator.iter_errors(example["payload"])]
            assert not errors, f"{routing_key}: {errors}"


def test_the_results_example_is_accepted_whole(document):
    for payload in example_payloads(document, "results_published"):
        envelope = parsed(payload)
        results = read_results(envelope)

        assert envelope.type == "results_published"
        assert envelope.producer == "exam_authority"
        assert len(results.candidates) == len(payload["data"]["candidates"])


def test_every_example_passes_its_contract(document):
    for routing_key, message in messages(document):
        for example in message.get("examples", []):
            envelope = parsed(example["payload"])
            assert envelope.type == routing_key_of(routing_key)


def test_the_certificate_example_is_what_the_relay_publishes(document):
    results = read_results(parsed(example_payloads(document, "results_published")[0]))
    candidate, session = results.candidates[0], results.session
    certificate = Certificate.register(
        certificate_number=candidate.certificate_number,
        holder_id_number=candidate.id_number,
        holder_name=candidate.name,
        qualification=qualification(session.qualification.code),
        level=session.level,
        specialty=candidate.specialty,
        exam_session_id=session.session_id,
        exam_end_date=session.exam_end_date,
        registration_place=candidate.registration_place,
    )
    (registered,) = certificate.collect_events()

    published = envelope_for(registered, "certificates", publication)
    documented = parsed(example_payloads(document, "certificate_registered")[0])

    assert published is not None
    assert documented.event_id == published.event_id
    assert documented.aggregate_id == published.aggregate_id
    assert documented.aggregate_version == published.aggregate_version
    assert documented.data == published.data


def test_we_document_sending_only_types_our_relays_publish(document):
    for routing_key, channel in document["channels"].items():
        if "subscribe" not in channel:
            continue
        payload = channel["subscribe"]["message"]["payload"]
        producer = payload["allOf"][1]["properties"]["producer"]["const"]

        assert routing_key_of(routing_key) in subscribed_types(producer), (
            f"{producer} does not publish {routing_key}: no queue subscribes to it"
        )


def test_the_real_name_example_is_what_identity_publishes(document):
    documented = parsed(example_payloads(document, "real_name_verified")[0])
    data = documented.data
    account = Account._create(
        Account.Registered,
        id=uuid.UUID(documented.aggregate_id),
        mobile="13912345678",
        password_hash="not-a-real-hash",
        roles=[Role.APPLICANT],
    )
    account.verify_real_name(
        data["name"], data["id_number"], document_kind(data["id_number"])
    )
    *_, verified = account.collect_events()

    published = envelope_for(verified, "identity", identity.publication)

    assert published is not None
    assert documented.event_id == published.event_id
    assert documented.aggregate_id == published.aggregate_id
    assert documented.aggregate_version == published.aggregate_version
    assert documented.data == published.data


def test_every_channel_is_on_its_producers_exchange(document):
    for routing_key, message in messages(document):
        binding = channel_binding(document, routing_key)

        producer = producer_of(message)
        assert binding["exchange"]["name"] == exchange_name(producer)
        assert routing_key == channel_of(producer, routing_key_of(routing_key))


def test_we_send_what_our_services_publish_and_receive_what_others_do(document):
    for routing_key, channel in document["channels"].items():
        operations = {"publish", "subscribe"} & set(channel)
        assert len(operations) == 1, f"{routing_key}: one operation per channel"
        (operation,) = operations
        ours = producer_of(channel[operation]["message"]) in OUR_SERVICES

        assert operation == ("subscribe" if ours else "publish"), routing_key


def test_our_examples_carry_the_event_id_the_relay_derives(document):
    checked = 0

    for routing_key, message in messages(document):
        if producer_of(message) not in OUR_SERVICES:
            continue
        for example in message.get("examples", []):
            envelope = parsed(example["payload"])
            expected = stable_event_id(
                envelope.producer, envelope.aggregate_id, envelope.aggregate_version
            )
            assert envelope.event_id == expected, routing_key
            checked += 1

    assert checked


def documented_distribution_examples(document) -> dict[str, Envelope]:
    found = {}
    for routing_key, message in messages(document):
        if producer_of(message) == "distribution":
            for example in message.get("examples", []):
                found[routing_key] = parsed(example["payload"])
    return found


def the_examples_story(document) -> list[Any]:
    """Replay the claim the distribution examples tell, as domain events.

    The holder of the certificate example books a window, cancels, asks for mail
    instead; the order is shipped and delivered. Ids and data come from the
    examples, so the events are what distribution records for them.
    """
    certificate = parsed(example_payloads(document, "certificate_registered")[0])
    made = parsed(example_payloads(document, "booking_made")[0])
    ordered = parsed(example_payloads(document, "mail_requested")[0])
    shipped = parsed(example_payloads(document, "mail_shipped")[0]).data
    custody = Custody.open(
        uuid.UUID(certificate.aggregate_id),
        certificate.data["certificate_number"],
        certificate.data["holder_id_number"],
        certificate.data["holder_name"],
        date.fromisoformat(certificate.data["custody_until"]),
    )
    booking = Booking._create(
        Booking.Made,
        id=uuid.UUID(made.aggregate_id),
        account_id=uuid.UUID(made.data["account_id"]),
        certificate_ids=[custody.id],
        certificate_numbers=made.data["certificate_numbers"],
        starts_at=datetime.fromisoformat(made.data["starts_at"]),
        ends_at=datetime.fromisoformat(made.data["ends_at"]),
    )
    custody.book(booking.id, booking.starts_at, booking.ends_at)
    booking.cancel("cancelled_by_holder")
    custody.release("cancelled_by_holder")
    order = MailOrder._create(
        MailOrder.Requested,
        id=uuid.UUID(ordered.aggregate_id),
        account_id=uuid.UUID(ordered.data["account_id"]),
        certificate_ids=[custody.id],
        certificate_numbers=ordered.data["certificate_numbers"],
        recipient=ordered.data["recipient"],
        mobile=ordered.data["mobile"],
        address=ordered.data["address"],
        ship_by=date.fromisoformat(ordered.data["ship_by"]),
    )
    custody.request_mail(order.id, order.ship_by)
    order.ship(shipped["tracking_number"], shipped["carrier"], uuid.uuid4())
    custody.ship(order.id, shipped["tracking_number"])
    order.deliver()
    custody.deliver(order.id)
    return [
        *custody.collect_events(),
        *booking.collect_events(),
        *order.collect_events(),
    ]


def test_the_distribution_examples_are_what_its_relay_publishes(document):
    published = {}
    for domain_event in the_examples_story(document):
        envelope = envelope_for(domain_event, "distribution", distribution)
        assert envelope is not None
        published[envelope.type] = envelope

    documented = documented_distribution_examples(document)

    assert documented
    assert set(documented) <= set(published), "an example outside the story"
    for routing_key, example in documented.items():
        expected = published[routing_key]
        assert example.event_id == expected.event_id, routing_key
        assert example.aggregate_id == expected.aggregate_id, routing_key
        assert example.aggregate_version == expected.aggregate_version, routing_key
        assert example.data == expected.data, routing_key


def test_the_booking_example_is_a_pickup_window(document):
    booked = parsed(example_payloads(document, "booking_made")[0]).data
    rules = PickupRules(load_settings({}).pickup, WorkingCalendar.from_default_file())

    slot = rules.slot_starting(datetime.fromisoformat(booked["starts_at"]))

    assert slot is not None, "not the start of a pickup window"
    assert slot.ends_at == datetime.fromisoformat(booked["ends_at"])


def test_the_mail_example_ships_within_the_working_days_promised(document):
    ordered = parsed(example_payloads(document, "mail_requested")[0])
    requested_on = ordered.occurred_at.astimezone(BEIJING).date()
    calendar = WorkingCalendar.from_default_file()

    ship_by = calendar.add_working_days(requested_on, MAIL_DEADLINE_WORKING_DAYS)

    assert ordered.data["ship_by"] == ship_by.isoformat()


def test_the_postal_example_delivers_the_shipped_parcel(document):
    shipped = parsed(example_payloads(document, "mail_shipped")[0])
    delivered = parsed(example_payloads(document, "mail_delivered")[0])

    assert delivered.producer == "postal_service"
    assert delivered.data["tracking_number"] == shipped.data["tracking_number"]
    assert delivered.occurred_at > shipped.occurred_at
