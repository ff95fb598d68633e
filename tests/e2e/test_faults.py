"""Crashes and broken connections in the middle of large batches lose nothing."""

from __future__ import annotations

import time

import pytest

from tests.support.infrastructure import eventually
from tools.exam_authority import Broker, publish, results_message, sample_candidates

ROWS = "SELECT count(*) FROM certificates_read.applicant_certificates"
DISTINCT_ROWS = (
    "SELECT count(DISTINCT certificate_number) "
    "FROM certificates_read.applicant_certificates"
)
STORED = "SELECT count(*) FROM certificates.certificates_events"
PARKED = "SELECT count(*) FROM certificates_read.parked_events"


def stored_events(database) -> int:
    try:
        return database.scalar(STORED) or 0
    except Exception:  # the table appears when the service first starts
        return 0


def publish_sessions(vhost, sessions: int, candidates: int) -> int:
    broker = Broker(vhost.amqp_uri)
    for n in range(sessions):
        session = f"2025-load-{n}"
        publish(
            broker, results_message(session, sample_candidates(session, candidates))
        )
    return sessions * candidates


def assert_each_certificate_once(database, vhost, total: int) -> None:
    eventually(lambda: database.scalar(ROWS) == total, timeout=240, what="all rows")
    assert database.scalar(DISTINCT_ROWS) == total
    assert database.scalar(STORED) == total
    assert database.scalar(PARKED) == 0
    assert vhost.queue_depth("certificates.exam_results.dead") == 0
    assert vhost.queue_depth("certificates.read_model.dead") == 0


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_records_each_certificate_once(
    start_certificates, database, vhost
):
    service = start_certificates()
    total = publish_sessions(vhost, sessions=2, candidates=10_000)

    eventually(
        lambda: 0 < stored_events(database) < total, interval=0.02, what="recording"
    )
    service.kill()
    stored_at_first_kill = stored_events(database)
    service = start_certificates()
    eventually(
        lambda: 0 < (database.scalar(ROWS) or 0) < total,
        interval=0.02,
        what="projection under way",
    )
    service.kill()
    start_certificates()

    assert 0 < stored_at_first_kill < total
    assert_each_certificate_once(database, vhost, total)


@pytest.mark.slow
def test_broker_connections_cut_under_load_lose_nothing(
    start_certificates, database, vhost
):
    start_certificates()
    total = publish_sessions(vhost, sessions=4, candidates=2_500)

    eventually(lambda: stored_events(database) > 0, what="work under way")
    rows_at_cuts = []
    for pause in (0.2, 1.0, 1.0, 1.0):
        time.sleep(pause)
        eventually(vhost.close_connections, what="connections to cut")
        rows_at_cuts.append(database.scalar(ROWS) or 0)

    # On a fast machine the later cuts may find the work done; the first may not.
    assert rows_at_cuts[0] < total, "the first cut came after the work"
    assert_each_certificate_once(database, vhost, total)


@pytest.mark.slow
def test_two_replicas_competing_for_the_same_queues_record_and_project_exactly(
    start_certificates, database, vhost
):
    start_certificates()
    start_certificates()
    total = publish_sessions(vhost, sessions=6, candidates=1_000)

    assert_each_certificate_once(database, vhost, total)
    assert (
        database.scalar(
            "SELECT count(*) FROM certificates_read.projection_versions "
            "WHERE projection = 'applicant_certificates' AND version = 1"
        )
        == total
    )
