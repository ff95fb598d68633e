"""Electronic certificates through their lives, and public verification (查验).

The national paper certificate's life (custody, booking, hand-over, mail, expiry) is
walked in test_distribution.py, and its reissue in test_reissue.py; each reads every
state from the applicant's own view.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pytest
import requests

from services.certificates.ecert import verify as verify_pdf
from services.certificates.verification import FAILURES_PER_ADDRESS, verification_code
from services.common.dead_letters import list_dead_letters
from services.common.identifiers import certificate_id
from services.common.workdays import BEIJING
from tests.support.holders import certificates_of, verified_holder
from tests.support.infrastructure import eventually
from tests.support.staff import staff_member
from tools.authorities import (
    certificates_printed_message,
    ecert_signed_message,
    publish_fact,
)
from tools.exam_authority import Broker, publish, results_message, sample_candidates

EVENTS_OF = (
    "SELECT count(*) FROM certificates.certificates_events WHERE originator_id = %s"
)


@pytest.fixture
def product(start_identity, start_certificates):
    return start_identity(), start_certificates()


def call(method, service, path, who=None, body=None, **kwargs) -> requests.Response:
    headers = who.auth if who is not None else {}
    return requests.request(
        method, service.url + path, json=body, headers=headers, timeout=20, **kwargs
    )


def code(response: requests.Response) -> str:
    return response.json()["error"]["code"]


def holder_of(product, vhost, session, qualification, level):
    identity, certificates = product
    candidates = sample_candidates(session, 2)
    publish(
        Broker(vhost.amqp_uri),
        results_message(session, candidates, qualification, level, "2026-09-20"),
    )
    first = candidates[0]
    holder = verified_holder(identity.url, first["name"], first["id_number"])
    eventually(lambda: certificates_of(certificates.url, holder)["certificates"])
    return holder, first


def state_of(certificates, holder) -> str:
    return certificates_of(certificates.url, holder)["certificates"][0]["state"]


def trust_root(certificates) -> bytes:
    path = certificates.environment["XJCERT_ECERT_SIGNING_CERTIFICATE_FILE"]
    return Path(path).read_bytes()


def test_a_health_certificate_is_downloadable_once_the_commission_signs(product, vhost):
    _, certificates = product
    holder, candidate = holder_of(product, vhost, "2026-nurse", "nurse", "初级")
    number = candidate["certificate_number"]
    assert state_of(certificates, holder) == "awaiting_health_commission"

    publish_fact(
        Broker(vhost.amqp_uri), ecert_signed_message("health_commission", number)
    )

    eventually(lambda: state_of(certificates, holder) == "ecert_downloadable")
    pdf = call("GET", certificates, f"/v1/me/certificates/{number}/ecert", holder)
    assert pdf.status_code == 200, pdf.text
    assert verify_pdf(pdf.content, [trust_root(certificates)]).valid


def test_the_automatic_signer_signs_when_the_administrator_turns_it_on(
    product, vhost, database
):
    identity, certificates = product
    admin = staff_member(identity.url, database, vhost, "administrator")
    holder, candidate = holder_of(product, vhost, "2026-cost", "cost_engineer", "二级")
    number = candidate["certificate_number"]
    assert state_of(certificates, holder) == "awaiting_industry_signature"
    turned_on = call(
        "PUT", certificates, "/v1/admin/ecert-signing", admin, {"automatic": True}
    )
    assert turned_on.json() == {"automatic": True}, turned_on.text

    publish_fact(
        Broker(vhost.amqp_uri), ecert_signed_message("industry_authority", number)
    )

    eventually(lambda: state_of(certificates, holder) == "ecert_downloadable")
    policy = call("GET", certificates, "/v1/admin/ecert-signing", admin)
    assert policy.json() == {"automatic": True}


def test_verification_answers_valid_then_revoked_and_limits_guessing(
    product, vhost, database
):
    identity, certificates = product
    admin = staff_member(identity.url, database, vhost, "administrator")
    holder, candidate = holder_of(product, vhost, "2026-fire", "fire_engineer", "一级")
    number, name = candidate["certificate_number"], candidate["name"]

    by_name = call(
        "GET", certificates, "/v1/verification", params={"number": number, "name": name}
    )
    key = Path(certificates.environment["XJCERT_LOOKUP_KEY_FILE"]).read_bytes()
    by_code = call(
        "GET",
        certificates,
        "/v1/verification",
        params={"number": number, "code": verification_code(key.strip(), number)},
    )
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["status"] == "valid"
    assert by_code.json() == by_name.json()
    assert candidate["id_number"] not in by_name.text
    assert name not in by_name.text  # masked
    assert by_name.json()["holder_name"][0] == name[0]

    revoked = call(
        "POST",
        certificates,
        f"/v1/admin/certificates/{number}/revoke",
        admin,
        {"reason": "考试违纪，成绩无效"},
    )
    assert revoked.status_code == 200, revoked.text
    after = call(
        "GET", certificates, "/v1/verification", params={"number": number, "name": name}
    )
    assert (after.json()["status"], after.json()["reason"]) == (
        "revoked",
        "考试违纪，成绩无效",
    )
    eventually(lambda: state_of(certificates, holder) == "revoked")
    again = call(
        "POST",
        certificates,
        f"/v1/admin/certificates/{number}/revoke",
        admin,
        {"reason": "重复"},
    )
    assert (again.status_code, code(again)) == (409, "already_revoked")

    wrong = [
        call(
            "GET",
            certificates,
            "/v1/verification",
            params={"number": number, "name": f"错{i}"},
        )
        for i in range(FAILURES_PER_ADDRESS)
    ]
    assert {(r.status_code, code(r)) for r in wrong} == {(404, "certificate_not_found")}
    limited = call(
        "GET", certificates, "/v1/verification", params={"number": number, "name": name}
    )
    assert (limited.status_code, code(limited)) == (429, "too_many_attempts")


def test_the_ministrys_printed_batch_is_recorded_once_and_strangers_reported(
    product, vhost, database
):
    _, certificates = product
    holder, candidate = holder_of(product, vhost, "2026-audit", "auditor", "中级")
    number = candidate["certificate_number"]
    broker = Broker(vhost.amqp_uri)
    printed = certificates_printed_message("2026-national-011", [number, "X-404"])
    publish_fact(broker, printed)
    publish_fact(broker, {**printed, "event_id": str(uuid.uuid4())})
    broken = certificates_printed_message("2026-national-012", [number])
    del broken["data"]["arrived_at"]
    publish_fact(broker, broken)

    shown = eventually(
        lambda: certificates_of(certificates.url, holder)["certificates"][0][
            "printed_on"
        ]
    )
    arrived = datetime.fromisoformat(printed["data"]["arrived_at"])
    assert shown == arrived.astimezone(BEIJING).date().isoformat()
    # Registered, then printed once: the repeated batch added nothing.
    assert database.scalar(EVENTS_OF, str(certificate_id(number))) == 2
    eventually(
        lambda: vhost.queue_depth("certificates.printed.dead") == 1,
        what="the malformed batch dead-lettered",
    )
    (letter,) = list_dead_letters(vhost.amqp_uri, "certificates.printed")
    assert letter.reason_code == "schema_violation"
    metrics = requests.get(f"{certificates.url}/metrics", timeout=10).text
    assert "certificates_printed_unknown_total 2.0" in metrics
