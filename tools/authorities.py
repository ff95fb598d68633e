"""Stand-ins for the ministry, the industry authorities and the health commission.

Like `tools.exam_authority`, they speak plain AMQP (py-amqp), as outside systems
would: the ministry reads each closed reissue batch from its inbox queue and later
announces that the printed certificates arrived; the authorities announce their
signatures on regional electronic certificates.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from tools.exam_authority import Broker, publish

MINISTRY_INBOX = "ministry.reissue_batches"


def fact(
    producer: str, event_type: str, aggregate_id: str, data: Any, **envelope: Any
) -> dict[str, Any]:
    """An envelope as an outside system writes it; `envelope` overrides fields."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": producer,
        "aggregate_id": aggregate_id,
        "data": data,
        **envelope,
    }


def batch_arrived_message(
    period: str, certificate_numbers: list[str], arrived_at: datetime | None = None
) -> dict[str, Any]:
    """The ministry's printed reissued certificates of `period` reached Xinjiang."""
    return fact(
        "ministry",
        "batch_arrived",
        f"reissue-batch-{period}",
        {
            "batch": period,
            "arrived_at": (arrived_at or datetime.now(UTC)).isoformat(),
            "certificates": [{"certificate_number": n} for n in certificate_numbers],
        },
    )


def ecert_signed_message(
    producer: str, certificate_number: str, signed_at: datetime | None = None
) -> dict[str, Any]:
    """`producer` is "industry_authority" or "health_commission"."""
    return fact(
        producer,
        "ecert_signed",
        certificate_number,
        {
            "certificate_number": certificate_number,
            "signed_at": (signed_at or datetime.now(UTC)).isoformat(),
        },
    )


def publish_fact(broker: Broker, message: dict[str, Any]) -> None:
    publish(
        broker,
        message,
        exchange=f"{message['producer']}.events",
        routing_key=message["type"],
    )


def take_closed_batches(broker: Broker) -> list[dict[str, Any]]:
    """Every closed batch waiting in the ministry's inbox, acknowledged as read."""
    connection = broker.connect()
    taken = []
    try:
        channel = connection.channel()
        while (message := channel.basic_get(MINISTRY_INBOX)) is not None:
            taken.append(json.loads(message.body))
            channel.basic_ack(message.delivery_tag)
    finally:
        connection.close()
    return taken


def certificates_printed_message(
    batch: str, certificate_numbers: list[str], arrived_at: datetime | None = None
) -> dict[str, Any]:
    """A batch of first-issue national certificates the ministry printed arrived."""
    return fact(
        "ministry",
        "certificates_printed",
        f"printed-batch-{batch}",
        {
            "batch": batch,
            "arrived_at": (arrived_at or datetime.now(UTC)).isoformat(),
            "certificates": [{"certificate_number": n} for n in certificate_numbers],
        },
    )
