"""The outside systems' broker permissions, as the manifests define them, hold on a
real RabbitMQ: each system writes only to its own exchange, the ministry reads
only its inbox, and none may declare anything."""

from __future__ import annotations

import uuid
from pathlib import Path

import amqp
import pytest
import yaml

from services.common.amqp import declare_everything
from services.common.topology import subscribed_types
from tools.authorities import MINISTRY_INBOX, take_closed_batches
from tools.exam_authority import Broker, publish

MANIFEST = (
    Path(__file__).resolve().parents[2]
    / "deploy"
    / "base"
    / "broker"
    / "outside-systems.yaml"
)
REFUSED = (amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed)


def permissions() -> dict[str, dict[str, str]]:
    """Each outside system's permissions, by producer name."""
    documents = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    return {
        d["metadata"]["name"].removeprefix("xjcert-").replace("-", "_"): d["spec"][
            "permissions"
        ]
        for d in documents
        if d["kind"] == "Permission"
    }


@pytest.fixture
def outside_system(vhost):
    """Make a broker user with a producer's permissions; return its Broker."""
    declare_everything(vhost.amqp_uri)
    made = []

    def make(producer: str) -> Broker:
        user = f"{vhost.name}-{producer}"
        password = uuid.uuid4().hex
        vhost._api("PUT", f"users/{user}", json={"password": password, "tags": ""})
        vhost._api(
            "PUT", f"permissions/{vhost.name}/{user}", json=permissions()[producer]
        )
        made.append(user)
        return Broker(vhost.amqp_uri.replace("guest:guest", f"{user}:{password}"))

    yield make
    for user in made:
        vhost._api("DELETE", f"users/{user}", ok=(204, 404))


def test_every_outside_system_has_a_permission():
    assert set(permissions()) == {
        "exam_authority",
        "ministry",
        "industry_authority",
        "health_commission",
        "postal_service",
    }


@pytest.mark.parametrize("producer", sorted(permissions()))
def test_a_system_publishes_to_its_own_exchange_and_no_other(producer, outside_system):
    broker = outside_system(producer)
    other = "ministry" if producer != "ministry" else "exam_authority"
    bound = sorted(subscribed_types(producer))[0]

    publish(broker, b"{}", exchange=f"{producer}.events", routing_key=bound)
    with pytest.raises(REFUSED):
        publish(broker, b"{}", exchange=f"{other}.events", routing_key="nothing_bound")


def test_only_the_ministry_reads_its_inbox(outside_system):
    ministry = outside_system("ministry")
    exam_authority = outside_system("exam_authority")

    assert take_closed_batches(ministry) == []
    with pytest.raises(REFUSED):
        take_closed_batches(exam_authority)


@pytest.mark.parametrize("producer", sorted(permissions()))
def test_no_system_declares_anything(producer, outside_system):
    connection = outside_system(producer).connect()
    try:
        with pytest.raises(REFUSED):
            connection.channel().queue_declare(f"{producer}.own", durable=True)
    finally:
        connection.close()


def test_the_inbox_is_the_one_the_topology_declares():
    assert (
        permissions()["ministry"]["read"]
        == f"^{MINISTRY_INBOX.replace('.', chr(92) + '.')}$"
    )
