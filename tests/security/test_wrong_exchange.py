"""A fact published on another system's exchange is never acted on: the broker
returns it as unroutable, or its consumer dead-letters it as `unexpected_type`,
and nothing is recorded.

tests/ops/test_outside_permissions.py shows that an outside system's broker user
may write only to its own exchange; here a system misroutes or forges facts on
exchanges it may write to, and the consumers' own checks stop them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tests.ops.test_outside_permissions import permissions
from tests.support.infrastructure import eventually
from tests.support.poison import (
    RETURNED,
    ROUTED,
    RunningProduct,
    dead_letter_of,
    publish_raw,
)
from tools.authorities import fact
from tools.exam_authority import results_message, sample_candidates

pytestmark = pytest.mark.security

INDUSTRY = "wx-ind"  # industry-signed certificates on record
CERTIFICATES = (
    "SELECT count(*) FROM certificates_read.applicant_certificates "
    "WHERE certificate_number LIKE %s"
)
SIGNED = CERTIFICATES + " AND authority_signed_at IS NOT NULL"
STORED = "SELECT count(*) FROM {} WHERE topic LIKE %s"


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    running = RunningProduct(tmp_path_factory.mktemp("wrong-exchange"))
    try:
        running.start("certificates", "reissue")
        session = results_message(
            INDUSTRY, sample_candidates(INDUSTRY, 2), "constructor", "二级"
        )
        publish_raw(
            running.vhost.amqp_uri,
            "exam_authority.events",
            "results_published",
            [session],
        )
        eventually(lambda: running.scalar(CERTIFICATES, f"{INDUSTRY}-%") == 2)
        yield running
    finally:
        running.stop()


def _batch_arrived() -> dict:
    data = {
        "batch": "2025-08",
        "arrived_at": datetime.now(UTC).isoformat(),
        "certificates": [{"certificate_number": f"{INDUSTRY}-000000"}],
    }
    return fact("ministry", "batch_arrived", "reissue-batch-2025-08", data)


def _results(tag: str) -> dict:
    return results_message(tag, sample_candidates(tag, 1))


def _industry_signature(producer: str = "industry_authority") -> dict:
    number = f"{INDUSTRY}-000000"
    data = {"certificate_number": number, "signed_at": datetime.now(UTC).isoformat()}
    return fact(producer, "ecert_signed", number, data)


@dataclass(frozen=True)
class Misrouted:
    story: str
    exchange: str
    routing_key: str
    body: dict
    queue: str | None  # where it lands; None: no queue is bound for it
    nothing_recorded: tuple[str, tuple]  # a count that must stay 0


ARRIVALS = (STORED.format("reissue.reissue_events"), ("%ArrivalRecorded",))
CASES = [
    Misrouted(
        "a ministry batch on the exam authority's exchange",
        "exam_authority.events",
        "batch_arrived",
        _batch_arrived(),
        None,
        ARRIVALS,
    ),
    Misrouted(
        "exam results on the ministry's exchange, routing key results_published",
        "ministry.events",
        "results_published",
        _results("wx-a"),
        None,
        (CERTIFICATES, ("wx-a-%",)),
    ),
    Misrouted(
        "a ministry batch under the exam authority's routing key",
        "exam_authority.events",
        "results_published",
        _batch_arrived(),
        "certificates.exam_results",
        ARRIVALS,
    ),
    Misrouted(
        "exam results dressed as a printed batch on the ministry's exchange",
        "ministry.events",
        "certificates_printed",
        _results("wx-b"),
        "certificates.printed",
        (CERTIFICATES, ("wx-b-%",)),
    ),
    Misrouted(
        "an industry signature on the health commission's exchange",
        "health_commission.events",
        "ecert_signed",
        _industry_signature(),
        "certificates.health_signatures",
        (SIGNED, (f"{INDUSTRY}-%",)),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.story)
def test_a_fact_on_the_wrong_exchange_is_not_acted_on(case, product):
    (sent,) = publish_raw(
        product.vhost.amqp_uri, case.exchange, case.routing_key, [case.body]
    )
    if case.queue is None:
        where = "returned by the broker as unroutable"
    else:
        letter = dead_letter_of(product, case.queue, sent.message_id)
        where = f"dead-lettered in {case.queue}.dead as {letter.reason_code!r}"
        assert letter.reason_code == "unexpected_type", letter.reason
    query, params = case.nothing_recorded
    print(f"{case.story}: {where}; recorded: {product.scalar(query, *params)}")

    assert sent.outcome == (RETURNED if case.queue is None else ROUTED)
    assert product.scalar(query, *params) == 0


@pytest.fixture
def health_commission(product):
    """A broker user with exactly the health commission's permissions."""
    user, password = f"{product.vhost.name}-health", uuid.uuid4().hex
    api = product.vhost._api
    api("PUT", f"users/{user}", json={"password": password, "tags": ""})
    grant = permissions()["health_commission"]
    api("PUT", f"permissions/{product.vhost.name}/{user}", json=grant)
    yield product.vhost.amqp_uri.replace("guest:guest", f"{user}:{password}")
    api("DELETE", f"users/{user}", ok=(204, 404))


@pytest.mark.parametrize(
    "producer, reason_code",
    [("industry_authority", "unexpected_type"), ("health_commission", "wrong_signer")],
)
def test_the_health_commission_cannot_sign_for_the_industry_authority(
    producer, reason_code, product, health_commission
):
    (sent,) = publish_raw(
        health_commission,
        "health_commission.events",
        "ecert_signed",
        [_industry_signature(producer)],
    )
    letter = dead_letter_of(product, "certificates.health_signatures", sent.message_id)
    signed = product.scalar(SIGNED, f"{INDUSTRY}-%")
    print(
        f"health commission's own user, envelope naming {producer}: routed to "
        f"certificates.health_signatures, dead-lettered as {letter.reason_code!r}; "
        f"industry certificates signed: {signed}"
    )

    assert letter.reason_code == reason_code, letter.reason
    assert signed == 0
