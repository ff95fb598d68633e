"""Exam results in over plain AMQP, each applicant's certificates out over HTTP."""

from __future__ import annotations

import json

from services.common.amqp import declare_everything
from services.common.dead_letters import list_dead_letters, replay_dead_letters
from tests.support.holders import Holder, certificates_of, new_mobile, verified_holder
from tests.support.infrastructure import eventually
from tools.exam_authority import Broker, publish, results_message, sample_candidates

CERTIFICATE_ROWS = "SELECT count(*) FROM certificates_read.applicant_certificates"
UNLISTED = "650102199308052190"  # valid, and in no results message of these tests
STORED_EVENTS = "SELECT count(*) FROM certificates.certificates_events"


def mine(identity, certificates, candidate: dict) -> dict:
    holder = verified_holder(identity.url, candidate["name"], candidate["id_number"])
    return certificates_of(certificates.url, holder)


def test_every_passed_candidate_reaches_their_read_model(
    start_certificates, start_identity, database, vhost
):
    certificates, identity = start_certificates(), start_identity()
    candidates = sample_candidates("2025-econ", 300, xpcc=4)

    publish(Broker(vhost.amqp_uri), results_message("2025-econ", candidates))

    eventually(lambda: database.scalar(CERTIFICATE_ROWS) == 300, what="300 rows")
    for candidate in candidates[5::37]:
        answer = mine(identity, certificates, candidate)
        (certificate,) = answer["certificates"]
        assert certificate["certificate_number"] == candidate["certificate_number"]
        assert certificate["holder_name"] == candidate["name"]
        assert certificate["qualification"]["name"] == "经济专业技术资格"
        assert certificate["state"] == "in_custody"
        assert certificate["custody_until"] == "2030-11-09"
    xpcc = mine(identity, certificates, candidates[0])["certificates"][0]
    assert xpcc["state"] == "served_by_xpcc"
    assert "兵团" in xpcc["notice"]


def test_republished_results_change_nothing(start_certificates, database, vhost):
    start_certificates()
    broker = Broker(vhost.amqp_uri)
    message = results_message("2025-arch", sample_candidates("2025-arch", 120))
    publish(broker, message)
    eventually(lambda: database.scalar(CERTIFICATE_ROWS) == 120, what="120 rows")

    publish(broker, message)
    publish(broker, {**message, "event_id": "0b2f7e55-0a8e-4f54-9d0d-6a1c7b9f3e21"})
    marker = results_message("2025-mark", sample_candidates("2025-mark", 1))
    publish(broker, marker)  # consumed after the repeats: once it shows, they were
    eventually(lambda: database.scalar(CERTIFICATE_ROWS) == 121, what="the marker")

    assert database.scalar(STORED_EVENTS) == 121
    assert vhost.queue_depth("certificates.exam_results.dead") == 0


def test_malformed_messages_are_dead_lettered_and_good_ones_flow(
    start_certificates, database, vhost
):
    start_certificates()
    broker = Broker(vhost.amqp_uri)
    bad_id = sample_candidates("2025-bad", 3)
    bad_id[1]["id_number"] = "650102199308052191"  # checksum off by one

    publish(broker, b"{not json")
    publish(broker, b"<results/>", content_type="application/xml")
    publish(broker, {"type": "results_published", "data": {}})
    publish(broker, results_message("2025-bad", bad_id))
    publish(broker, results_message("2025-good", sample_candidates("2025-good", 50)))

    eventually(lambda: database.scalar(CERTIFICATE_ROWS) == 50, what="good rows")
    eventually(
        lambda: vhost.queue_depth("certificates.exam_results.dead") == 4,
        what="four dead letters",
    )
    letters = list_dead_letters(vhost.amqp_uri, "certificates.exam_results")
    assert sorted(letter.reason_code for letter in letters) == [
        "invalid_id_number",
        "malformed_json",
        "schema_violation",
        "unsupported_content_type",
    ]
    invalid = next(x for x in letters if x.reason_code == "invalid_id_number")
    assert "positions 1" in invalid.reason
    assert "650102199308052191" not in json.dumps([x.reason for x in letters])


def test_replayed_dead_letters_are_handled_once_fixed(
    start_certificates, database, vhost
):
    start_certificates()
    broker = Broker(vhost.amqp_uri)
    message = results_message("2025-fix", sample_candidates("2025-fix", 5))
    message["data"]["exam_session"]["qualification_code"] = "astronaut"
    publish(broker, message)
    eventually(
        lambda: vhost.queue_depth("certificates.exam_results.dead") == 1,
        what="the dead letter",
    )

    moved = replay_dead_letters(vhost.amqp_uri, "certificates.exam_results")

    assert moved == 1
    eventually(
        lambda: vhost.queue_depth("certificates.exam_results.dead") == 1,
        what="the still-broken message to come back",
    )
    (letter,) = list_dead_letters(vhost.amqp_uri, "certificates.exam_results")
    assert letter.reason_code == "unknown_qualification"
    assert database.scalar(CERTIFICATE_ROWS) == 0


def test_a_holder_without_certificates_or_verification_is_told_why(
    start_certificates, start_identity
):
    certificates, identity = start_certificates(), start_identity()
    unverified = Holder(identity.url, new_mobile())
    unverified.register()
    unverified.sign_in()

    anonymous = certificates.get("/v1/me/certificates")
    not_verified = certificates.get("/v1/me/certificates", headers=unverified.auth)
    nobody = mine(identity, certificates, {"name": "李文静", "id_number": UNLISTED})

    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "authentication_required"
    assert not_verified.status_code == 403
    assert not_verified.json()["error"]["code"] == "real_name_required"
    assert nobody["certificates"] == []
    assert nobody["notice"]


def test_metrics_count_the_spine(start_certificates, database, vhost):
    service = start_certificates()
    publish(
        Broker(vhost.amqp_uri),
        results_message("2025-metric", sample_candidates("2025-metric", 7)),
    )
    eventually(lambda: database.scalar(CERTIFICATE_ROWS) == 7, what="7 rows")

    text = service.get("/metrics").text

    assert (
        'certificates_events_published_total{type="certificate_registered"} 7.0' in text
    )
    assert (
        'certificates_events_consumed_total{outcome="applied",'
        'queue="certificates.read_model"} 7.0'
    ) in text
    assert "certificates_relay_lag_events 0.0" in text


def test_results_published_before_the_service_first_ran_are_kept(
    start_certificates, database, vhost
):
    declare_everything(vhost.amqp_uri)  # as the deployment does before any service
    publish(
        Broker(vhost.amqp_uri),
        results_message("2025-early", sample_candidates("2025-early", 40)),
    )

    start_certificates()

    eventually(lambda: database.scalar(CERTIFICATE_ROWS) == 40, what="40 rows")
