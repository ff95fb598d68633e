"""The operator commands against a real PostgreSQL database and RabbitMQ vhost."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg

from services.certificates.application import CertificatesApplication
from services.certificates.results import read_results
from services.common.amqp import (
    ConfirmingPublisher,
    OutgoingMessage,
    declare_everything,
    open_connection,
)
from services.common.envelope import parse_message
from services.common.topology import (
    ATTEMPTS_HEADER,
    DEAD_AT_HEADER,
    REASON_CODE_HEADER,
    REASON_HEADER,
)
from services.common.workdays import WorkingCalendar
from services.ops.schema import create_schemas
from tools.exam_authority import results_message, sample_candidates

QUEUE = "certificates.exam_results"


def waiting(amqp_uri: str, queue: str) -> int:
    connection = open_connection(amqp_uri)
    try:
        return connection.channel().queue_declare(queue, passive=True).message_count
    finally:
        connection.close()


def take(amqp_uri: str, queue: str) -> bytes:
    connection = open_connection(amqp_uri)
    try:
        message = connection.channel().basic_get(queue, no_ack=True)
        return message.body
    finally:
        connection.close()


def record_certificates(settings, count: int) -> int:
    create_schemas(settings)
    app = CertificatesApplication.from_settings(settings, "certificates")
    app.calendar = WorkingCalendar.from_default_file()
    message = results_message("2025-ops", sample_candidates("2025-ops", count))
    envelope = parse_message(json.dumps(message).encode(), "application/json")
    try:
        app.record_results(read_results(envelope))
        return app.recorder.max_notification_id()
    finally:
        app.close()


def dead_letter(amqp_uri: str) -> None:
    body = json.dumps(results_message("2025-dead", sample_candidates("2025-dead", 1)))
    publisher = ConfirmingPublisher(amqp_uri)
    try:
        publisher.publish(
            [
                OutgoingMessage(
                    exchange="",
                    routing_key=f"{QUEUE}.dead",
                    body=body.encode(),
                    message_id="m-1",
                    headers={
                        ATTEMPTS_HEADER: 5,
                        REASON_CODE_HEADER: "handler_failed",
                        REASON_HEADER: "OperationalError on each of 5 attempts",
                        DEAD_AT_HEADER: datetime.now(UTC).isoformat(),
                    },
                )
            ]
        )
    finally:
        publisher.close()


def test_dead_letters_are_counted_listed_and_replayed(ops, vhost):
    declare_everything(vhost.amqp_uri)
    dead_letter(vhost.amqp_uri)

    counts = ops("dead-letters", "counts")
    listed = ops("dead-letters", "list", QUEUE)
    replayed = ops("dead-letters", "replay", QUEUE, "--yes")

    assert f"{QUEUE}.dead │ 1 │" in squeeze(counts)
    assert "handler_failed" in listed and "m-1" in listed
    assert "1 message(s) sent back" in replayed
    assert waiting(vhost.amqp_uri, f"{QUEUE}.dead") == 0
    assert waiting(vhost.amqp_uri, QUEUE) == 1
    assert "is empty" in ops("dead-letters", "replay", QUEUE, "--yes")


def test_replaying_asks_first(ops, vhost):
    declare_everything(vhost.amqp_uri)
    dead_letter(vhost.amqp_uri)

    ops("dead-letters", "replay", QUEUE, succeed=False)

    assert waiting(vhost.amqp_uri, f"{QUEUE}.dead") == 1


def test_a_test_exam_result_is_published_as_the_exam_authority_would(ops, vhost):
    declare_everything(vhost.amqp_uri)

    output = ops("publish", "--yes", "exam-results", "--candidates", "4")
    envelope = parse_message(take(vhost.amqp_uri, QUEUE), "application/json")

    assert "4 candidate(s) published" in output
    assert envelope.producer == "exam_authority"
    assert len(read_results(envelope).candidates) == 4


def test_relay_lag_reads_the_event_store_and_the_relay_lock(ops, settings, database):
    recorded = record_certificates(settings, 5)
    behind = ops("relay-lag")
    with psycopg.connect(settings.database.conninfo(), autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext('relay:certificates'))")
        move_relay_to(database, recorded)
        caught_up = ops("relay-lag")

    assert recorded >= 5
    assert f"certificates │ {recorded} │ 0 │ {recorded} │ no replica" in squeeze(behind)
    assert f"certificates │ {recorded} │ {recorded} │ 0 │ yes" in squeeze(caught_up)


def test_republish_moves_the_relay_back_to_the_start(ops, settings, database):
    recorded = record_certificates(settings, 2)
    move_relay_to(database, recorded)

    output = ops("republish", "certificates")

    assert f"moved from position {recorded} back to the start" in output
    assert database.scalar("SELECT position FROM certificates.relay_position") == 0


def test_rebuild_fills_the_read_model_from_the_event_store(ops, settings, database):
    record_certificates(settings, 6)

    output = ops("rebuild", "certificates")

    assert "rebuilt from" in output
    assert (
        database.scalar("SELECT count(*) FROM certificates_read.applicant_certificates")
        == 6
    )


def test_a_batch_is_closed_by_hand_once(ops, settings, database):
    create_schemas(settings)

    first = ops("batch", "close", "2026-01", "--yes")
    again = ops("batch", "close", "2026-01", "--yes")
    refused = ops("batch", "close", "January", "--yes", succeed=False)

    assert "batch 2026-01: closed, 0 certificate(s)" in first
    assert "batch 2026-01: closed" in again
    assert database.scalar("SELECT count(*) FROM reissue.reissue_events") == 2
    assert "like 2026-12" in refused


def move_relay_to(database, position: int) -> None:
    with database.connect() as conn:
        conn.execute(
            "UPDATE certificates.relay_position SET position = %s", (position,)
        )


def squeeze(text: str) -> str:
    return " ".join(text.split())
