"""A poison message on any inbound queue is dead-lettered with its reason, the
messages after it are applied, and the operators' replay sends it back once.

Inbound queues are those fed by systems outside our services (exam authority,
ministry, industry authorities, health commission, postal service) and by
identity's verified real names, which four services follow. One set of services
runs for the whole module; each queue's case uses its own data. Two messages that
failed for want of something are applied once an operator supplies it and
replays them. XJCERT_POISON_MANY (default 30) sets how many dead letters the
bulk replay moves.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from random import Random

import pytest
import requests

from services.common.auth import Role, TokenIssuer
from tests.support.infrastructure import eventually, secret_files
from tests.support.poison import RunningProduct, dead_letter_of, publish_raw
from tools.authorities import fact
from tools.exam_authority import id_number, results_message, sample_candidates

pytestmark = pytest.mark.faults

READ_ROWS = "SELECT count(*) FROM certificates_read.applicant_certificates WHERE "
SIGNED = READ_ROWS + "certificate_number LIKE %s AND authority_signed_at IS NOT NULL"
PRINTED = READ_ROWS + "certificate_number LIKE %s AND printed_on IS NOT NULL"
REGISTERED = READ_ROWS + "certificate_number LIKE %s"
ARRIVALS = (
    "SELECT count(*) FROM reissue.reissue_events WHERE topic LIKE '%%ArrivalRecorded'"
)
CLOSED_PERIOD = "2025-10"
ACCOUNT_TABLES = {
    "certificates.accounts": "certificates_read.verified_accounts",
    "reissue.accounts": "reissue_read.verified_accounts",
    "distribution.accounts": "distribution_read.verified_accounts",
    "notifications.accounts": "notifications_read.recipients",
}
GOOD = 3
# Dead letters replayed at once; XJCERT_POISON_MANY sets more.
MANY = int(os.environ.get("XJCERT_POISON_MANY", "30"))


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    running = RunningProduct(tmp_path_factory.mktemp("poison"))
    try:
        running.start("certificates", "reissue", "distribution", "notifications")
        _seed_certificates(running)
        yield running
    finally:
        running.stop()


def _seed_certificates(product: RunningProduct) -> None:
    """Certificates of each kind that the signatures and printed batches name."""
    seeds = (("pz-ind", "constructor", "二级"), ("pz-hea", "nurse", "初级"))
    seeds += (("pz-nat", "economist", "中级"),)
    for session, code, level in seeds:
        message = results_message(
            session, sample_candidates(session, GOOD), code, level
        )
        _publish(product, "exam_authority", "results_published", [message])
    eventually(
        lambda: product.scalar(REGISTERED, "pz-%") == 3 * GOOD,
        timeout=90,
        what="the seeded certificates in the read model",
    )


def _publish(product: RunningProduct, producer: str, key: str, bodies: list) -> list:
    sent = publish_raw(product.vhost.amqp_uri, f"{producer}.events", key, bodies)
    return [message.message_id for message in sent]


@dataclass(frozen=True)
class Case:
    """One inbound queue: the poison it gets, the good messages after it, and
    how many of those the product shows as applied."""

    queue: str
    service: str
    producer: str
    routing_key: str
    reason_code: str
    poison: Callable[[], dict]
    good: Callable[[], list[dict]]
    applied: Callable[[RunningProduct], int]
    prepare: Callable[[RunningProduct], None] = lambda product: None


def _results(tag: str, **session) -> dict:
    return results_message(tag, sample_candidates(tag, 2), **session)


def _signature(producer: str, number: str, signed_at: str | None = None) -> dict:
    signed_at = signed_at or datetime.now(UTC).isoformat()
    data = {"certificate_number": number, "signed_at": signed_at}
    return fact(producer, "ecert_signed", number, data)


def _ministry(event_type: str, batch: str, numbers: list[str], arrived_at=None):
    data = {
        "batch": batch,
        "arrived_at": arrived_at or datetime.now(UTC).isoformat(),
        "certificates": [{"certificate_number": n} for n in numbers],
    }
    return fact("ministry", event_type, f"{event_type}-{batch}", data)


def _seeded(session: str) -> list[str]:
    return [f"{session}-{i:06d}" for i in range(GOOD)]


def _close_batch(product: RunningProduct) -> None:
    product.operator("services.ops", "batch", "close", CLOSED_PERIOD, "--yes")


MAIL_SESSION = "pz-mail"
DELIVERED = (
    "SELECT count(*) FROM distribution_read.mail_orders "
    "WHERE tracking_number LIKE 'PZMAIL%%' AND delivered"
)
TRACKED = (
    "SELECT count(*) FROM distribution_read.mail_orders WHERE tracking_number = %s"
)
ADDRESS = {
    "province": "新疆维吾尔自治区",
    "city": "乌鲁木齐市",
    "district": "天山区",
    "street": "人民路 1 号",
}


def _tracking(n: int) -> str:
    return f"PZMAIL{n:06d}"


def _delivery(tracking: str) -> dict:
    return fact(
        "postal_service", "mail_delivered", tracking, {"tracking_number": tracking}
    )


def _ship_orders(product: RunningProduct) -> None:
    """Mail orders shipped with known tracking numbers, for the postal service to
    deliver: holders verified by identity's facts, tokens as identity signs them."""
    candidates = sample_candidates(MAIL_SESSION, GOOD)
    results = results_message(MAIL_SESSION, candidates)
    _publish(product, "exam_authority", "results_published", [results])
    holders = [uuid.uuid4() for _ in candidates]
    verified = [
        _verified(str(holder), "", candidate)
        for holder, candidate in zip(holders, candidates, strict=True)
    ]
    _publish(product, "identity", "real_name_verified", verified)
    clerk = _token(uuid.uuid4(), Role.SHIPPING_CLERK)
    for n, (holder, candidate) in enumerate(zip(holders, candidates, strict=True)):
        _ship_one(product, clerk, holder, candidate["certificate_number"], n)


def _ship_one(product, clerk: str, holder: uuid.UUID, number: str, n: int) -> None:
    url = product.services["distribution"].url
    token = _token(holder, Role.APPLICANT)
    order = eventually(
        lambda: _mail_order(url, token, number),
        timeout=90,
        what="the certificate in custody and its holder verified",
    )
    shipped = requests.post(
        f"{url}/v1/shipping/orders/{order}/ship",
        json={"tracking_number": _tracking(n), "carrier": "中国邮政 EMS"},
        headers={"Authorization": f"Bearer {clerk}"},
        timeout=10,
    )
    assert shipped.status_code == 204, shipped.text
    # The postal service's delivery finds its order through this view.
    eventually(lambda: product.scalar(TRACKED, _tracking(n)) == 1)


def _mail_order(url: str, token: str, number: str) -> str | None:
    body = {
        "certificate_numbers": [number],
        "recipient": "测试",
        "mobile": "13900000000",
        "address": ADDRESS,
    }
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.post(
        f"{url}/v1/mail-orders", json=body, headers=headers, timeout=10
    )
    # Until the holder's verification and the custody reach distribution.
    if response.status_code in (403, 404):
        return None
    assert response.status_code == 201, response.text
    return response.json()["order_id"]


def _token(account_id: uuid.UUID, role: str) -> str:
    key = Path(secret_files()["XJCERT_TOKEN_PRIVATE_KEY_FILE"]).read_bytes()
    return TokenIssuer(key).access_token(account_id, frozenset({role}))


# Identity's facts reach four queues at once: published once, checked per queue.
ACCOUNT_IDS = [str(uuid.UUID(int=Random(f"pz-{n}").getrandbits(128))) for n in "ab"]


def _verified(account_id: str, seed: str, person: dict | None = None) -> dict:
    person = person or {"name": "测试", "id_number": id_number(Random(seed))}
    data = {
        "account_id": account_id,
        "name": person["name"],
        "id_number": person["id_number"],
        "document_kind": "mainland_resident",
    }
    return fact("identity", "real_name_verified", account_id, data, aggregate_version=2)


def _accounts_applied(queue: str) -> Callable[[RunningProduct], int]:
    query = (
        f"SELECT count(*) FROM {ACCOUNT_TABLES[queue]} WHERE account_id::text = ANY(%s)"
    )
    return lambda product: product.scalar(query, ACCOUNT_IDS)


CASES = [
    Case(
        "certificates.exam_results",
        "certificates",
        "exam_authority",
        "results_published",
        "invalid_date",
        poison=lambda: _results("pz-bad", exam_end_date="2025-02-30"),
        good=lambda: [_results(f"pz-exam-{n}") for n in range(GOOD)],
        applied=lambda product: product.scalar(REGISTERED, "pz-exam-%") // 2,
    ),
    Case(
        "certificates.industry_signatures",
        "certificates",
        "industry_authority",
        "ecert_signed",
        "invalid_date",
        poison=lambda: _signature(
            "industry_authority", "pz-ind-000000", "2025-02-29T10:00:00+08:00"
        ),
        good=lambda: [_signature("industry_authority", n) for n in _seeded("pz-ind")],
        applied=lambda product: product.scalar(SIGNED, "pz-ind-%"),
    ),
    Case(
        "certificates.health_signatures",
        "certificates",
        "health_commission",
        "ecert_signed",
        "schema_violation",
        poison=lambda: _signature("health_commission", "N" * 41),
        good=lambda: [_signature("health_commission", n) for n in _seeded("pz-hea")],
        applied=lambda product: product.scalar(SIGNED, "pz-hea-%"),
    ),
    Case(
        "certificates.printed",
        "certificates",
        "ministry",
        "certificates_printed",
        "invalid_date",
        poison=lambda: _ministry(
            "certificates_printed", "pz-p0", ["pz-nat-000000"], "2025-04-31T09:00:00Z"
        ),
        good=lambda: [
            _ministry("certificates_printed", f"pz-p{n + 1}", [number])
            for n, number in enumerate(_seeded("pz-nat"))
        ],
        applied=lambda product: product.scalar(PRINTED, "pz-nat-%"),
    ),
    Case(
        "reissue.ministry_batches",
        "reissue",
        "ministry",
        "batch_arrived",
        "schema_violation",
        poison=lambda: _ministry("batch_arrived", "2025-13", ["pz-r-0"]),
        good=lambda: [
            _ministry("batch_arrived", CLOSED_PERIOD, [f"pz-arrived-{n}"])
            for n in range(GOOD)
        ],
        applied=lambda product: product.scalar(ARRIVALS),
        prepare=_close_batch,
    ),
    Case(
        "distribution.postal",
        "distribution",
        "postal_service",
        "mail_delivered",
        "schema_violation",
        poison=lambda: _delivery("P-1"),
        good=lambda: [_delivery(_tracking(n)) for n in range(GOOD)],
        applied=lambda product: product.scalar(DELIVERED),
        prepare=_ship_orders,
    ),
] + [
    Case(
        queue,
        queue.split(".")[0],
        "identity",
        "real_name_verified",
        "schema_violation",
        poison=lambda: _verified("not-a-uuid", "pz-poison"),
        good=lambda: [_verified(a, a) for a in ACCOUNT_IDS],
        applied=_accounts_applied(queue),
    )
    for queue in ACCOUNT_TABLES
]


@pytest.fixture(scope="module")
def identity_facts(product):
    """Identity's poison and good facts, published once for its four queues."""
    bodies = [CASES[-1].poison(), *CASES[-1].good()]
    return _publish(product, "identity", "real_name_verified", bodies)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.queue)
def test_poison_is_dead_lettered_the_rest_applied_and_a_replay_returns_it_once(
    case, product, request
):
    case.prepare(product)
    if case.producer == "identity":
        poison_id, *_ = request.getfixturevalue("identity_facts")
        expected_applied = len(ACCOUNT_IDS)
    else:
        bodies = [case.poison(), *case.good()]
        poison_id, *_ = _publish(product, case.producer, case.routing_key, bodies)
        expected_applied = GOOD

    letter = dead_letter_of(product, case.queue, poison_id)
    eventually(
        lambda: case.applied(product) == expected_applied,
        timeout=60,
        what=f"the good messages after the poison on {case.queue}",
    )
    replayed, again = _replay_unfixed(product, case)
    print(
        f"poison on {case.queue}: dead-lettered with {letter.reason_code!r} "
        f"({letter.reason}); {expected_applied} later messages applied; replay: "
        f"{replayed.strip()!r}, back with {again.reason_code!r}, once"
    )

    assert letter.reason_code == case.reason_code, letter.reason
    assert letter.reason and letter.attempts == 1
    assert "1 message(s) sent back" in replayed
    assert (again.message_id, again.reason_code) == (poison_id, case.reason_code)
    assert product.ready(case.service)


def _replay_unfixed(product: RunningProduct, case: Case):
    """Replay the unfixed poison with the operators' command: it must come back
    to the dead letters exactly once, not loop between the queues."""
    counted = product.dead_lettered_total(case.service, case.queue)
    replayed = product.replay(case.queue)
    eventually(
        lambda: product.dead_lettered_total(case.service, case.queue) > counted,
        what=f"{case.queue} to dead-letter the replayed poison",
    )
    letters = product.dead_letters(case.queue)
    assert len(letters) == 1, letters
    assert product.dead_lettered_total(case.service, case.queue) == counted + 1
    return replayed, letters[0]


def test_a_signature_dead_lettered_before_its_certificate_is_applied_once_replayed(
    product,
):
    queue, number = "certificates.industry_signatures", "pz-late-000000"
    early = _signature("industry_authority", number)
    (message_id,) = _publish(product, "industry_authority", "ecert_signed", [early])
    letter = dead_letter_of(product, queue, message_id, timeout=90)
    _publish(product, "exam_authority", "results_published", [_constructor(number)])
    eventually(lambda: product.scalar(REGISTERED, number) == 1)

    replayed = product.operator(
        "services.ops", "dead-letters", "replay", queue, "--yes"
    )
    eventually(
        lambda: product.scalar(SIGNED, number) == 1,
        what="the replayed signature to be applied",
    )
    still_dead = [letter.message_id for letter in product.dead_letters(queue)]
    print(
        f"signature before its certificate on {queue}: dead-lettered with "
        f"{letter.reason_code!r} ({letter.reason}); after the exam results and "
        f"a replay ({' '.join(replayed.split())!r}) it is applied"
    )

    assert letter.reason_code == "handler_failed" and "call id" in letter.reason
    assert message_id not in still_dead


def _constructor(number: str) -> dict:
    """Exam results recording one 二级建造师 certificate under `number`."""
    candidate = {**sample_candidates(number, 1)[0], "certificate_number": number}
    return results_message(number, [candidate], "constructor", "二级")


def test_a_batch_dead_lettered_before_it_was_closed_is_applied_once_replayed(product):
    queue, period = "reissue.ministry_batches", "2025-11"
    early = _ministry("batch_arrived", period, ["pz-early-0"])
    (message_id,) = _publish(product, "ministry", "batch_arrived", [early])
    letter = dead_letter_of(product, queue, message_id)
    arrivals = product.scalar(ARRIVALS)

    product.operator("services.ops", "batch", "close", period, "--yes")
    replayed = product.replay(queue)
    eventually(
        lambda: product.scalar(ARRIVALS) == arrivals + 1,
        what="the replayed arrival to be recorded",
    )
    still_dead = [letter.message_id for letter in product.dead_letters(queue)]
    print(
        f"batch arrival before its batch closed on {queue}: dead-lettered with "
        f"{letter.reason_code!r} ({letter.reason}); after `batch close {period}` "
        f"and a replay ({replayed.strip()!r}) it is recorded"
    )

    assert letter.reason_code == "unknown_batch"
    assert message_id not in still_dead


def test_replaying_many_dead_letters_moves_each_back_once(product):
    queue, service = "certificates.exam_results", "certificates"
    before = product.dead_lettered_total(service, queue)
    poisons = [
        _results(f"pz-many-{n}", exam_end_date="2025-06-31") for n in range(MANY)
    ]
    _publish(product, "exam_authority", "results_published", poisons)
    eventually(
        lambda: product.dead_lettered_total(service, queue) == before + MANY,
        what=f"{MANY} poisons in {queue}.dead",
    )
    waiting = len(product.dead_letters(queue))

    replayed = product.replay(queue)
    eventually(
        lambda: product.dead_lettered_total(service, queue) >= before + MANY + waiting,
        what="every replayed poison back in the dead letters",
    )
    moved = int(replayed.split()[0])
    print(
        f"{waiting} dead letters in {queue}.dead replayed: {replayed.strip()!r}; "
        f"dead-lettered again: "
        f"{product.dead_lettered_total(service, queue) - before - MANY:.0f}"
    )

    assert moved == waiting
    assert len(product.dead_letters(queue)) == waiting
    assert product.dead_lettered_total(service, queue) == before + MANY + waiting
