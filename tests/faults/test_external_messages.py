"""Outside systems' messages delivered twice, and in an order nobody promised.

The exam authority, the industry authority and the ministry publish over plain
AMQP; a broker may redeliver and an outside system may repeat itself or send a
message before the one it depends on.
"""

from __future__ import annotations

import uuid

import pytest
import requests

from services.common.dead_letters import replay_dead_letters
from tests.support.infrastructure import eventually
from tests.support.workload import run_id
from tools.authorities import (
    batch_arrived_message,
    ecert_signed_message,
    publish_fact,
    take_closed_batches,
)
from tools.exam_authority import Broker, publish, results_message, sample_candidates

pytestmark = pytest.mark.faults

MINISTRY_QUEUE = "reissue.ministry_batches"


def shown(database, numbers: list[str]) -> dict[str, str]:
    with database.connect() as conn:
        rows = conn.execute(
            "SELECT certificate_number, state "
            "FROM certificates_read.applicant_certificates "
            "WHERE certificate_number = ANY(%s)",
            (numbers,),
        ).fetchall()
    return dict(rows)


def test_exam_results_repeated_and_out_of_order_are_recorded_once(product):
    broker = Broker(product.vhost.amqp_uri)
    prefix = f"faults-results-{run_id()}"
    sessions = [f"{prefix}-{n}" for n in range(2)]
    messages = [results_message(s, sample_candidates(s, 3)) for s in sessions]
    signed_session = f"{prefix}-constructor"
    signed_candidate = sample_candidates(signed_session, 1)
    signed_number = signed_candidate[0]["certificate_number"]
    signed_results = results_message(
        signed_session, signed_candidate, "constructor", "二级", "2026-09-20"
    )
    numbers = [
        c["certificate_number"] for m in messages for c in m["data"]["candidates"]
    ]

    def deliver() -> str:
        # The signature comes before the certificate it signs is on record.
        publish_fact(broker, ecert_signed_message("industry_authority", signed_number))
        publish(broker, messages[1])
        publish(broker, messages[0])
        publish(broker, messages[1])
        publish(broker, {**messages[0], "event_id": str(uuid.uuid4())})
        publish(broker, signed_results)
        return (
            "published a signature before its certificate, two sessions' results "
            "in reverse order, one again as is and one again under a new event id"
        )

    load, what = product.around(deliver)
    result = product.reconcile(load)

    states = shown(product.database, numbers + [signed_number])
    print(
        f"{what}: {len(states)} certificates shown, the signed one "
        f"{states.get(signed_number)}; {load.summary()}; {result.summary()}"
    )
    assert result.problems == []
    assert sorted(states) == sorted(numbers + [signed_number])
    assert states[signed_number] == "awaiting_centre_signature"


def test_a_ministry_batch_arriving_early_and_twice_marks_each_reissue_arrived_once(
    product,
):
    broker = Broker(product.vhost.amqp_uri)
    admin = product.administrator.auth
    found: dict[str, list[str]] = {}

    def waiting_in_a_batch() -> tuple[str, list[str]] | None:
        with product.database.connect() as conn:
            row = conn.execute(
                "SELECT period, array_agg(certificate_number) "
                "FROM reissue_read.applications WHERE state = 'in_batch' "
                "GROUP BY period ORDER BY period LIMIT 1"
            ).fetchone()
        return row

    def deliver() -> str:
        period, early_numbers = eventually(
            waiting_in_a_batch, timeout=120, what="approved reissues in a batch"
        )
        # Before the centre closed the batch: the ministry cannot have it yet.
        early = batch_arrived_message(period, early_numbers)
        publish_fact(broker, early)
        eventually(
            lambda: product.vhost.queue_depth(f"{MINISTRY_QUEUE}.dead") == 1,
            timeout=60,
            what="the early arrival to be dead-lettered",
        )
        closed = requests.post(
            f"{product.urls['reissue']}/v1/admin/reissue/batches/{period}/close",
            headers=admin,
            timeout=30,
        )
        assert closed.status_code == 200, closed.text
        (batch,) = eventually(lambda: take_closed_batches(broker), what="the inbox")
        found[period] = [e["certificate_number"] for e in batch["data"]["entries"]]
        replayed = replay_dead_letters(product.vhost.amqp_uri, MINISTRY_QUEUE)
        later = batch_arrived_message(period, found[period])
        publish_fact(broker, later)
        publish_fact(broker, later)
        return (
            f"batch {period}: arrival of {len(early_numbers)} before the close "
            f"(dead-lettered, {replayed} replayed after it), arrival of "
            f"{len(found[period])} twice"
        )

    load, what = product.around(deliver)
    result = product.reconcile(load)

    ((period, numbers),) = found.items()
    with product.database.connect() as conn:
        arrived = conn.execute(
            "SELECT certificate_number FROM reissue_read.applications "
            "WHERE period = %s AND state = 'arrived'",
            (period,),
        ).fetchall()
    print(
        f"{what}: {len(arrived)} applications arrived; {load.summary()}; "
        f"{result.summary()}"
    )
    assert result.problems == []
    assert sorted(n for (n,) in arrived) == sorted(numbers)
