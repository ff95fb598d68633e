import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.common.envelope import (
    ContractViolation,
    Envelope,
    parse_message,
    stable_event_id,
)
from tools.exam_authority import results_message, sample_candidates


def a_results_message(count: int = 2) -> dict[str, Any]:
    return results_message("2025-eco", sample_candidates("2025-eco", count))


def encoded(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


def violation(body: bytes, content_type: str | None = "application/json"):
    with pytest.raises(ContractViolation) as caught:
        parse_message(body, content_type)
    return caught.value


def test_a_valid_results_message_becomes_an_envelope():
    message = a_results_message()

    envelope = parse_message(encoded(message), "application/json")

    assert envelope.event_id == uuid.UUID(message["event_id"])
    assert envelope.type == "results_published"
    assert envelope.producer == "exam_authority"
    assert envelope.occurred_at.tzinfo is not None
    assert envelope.data == message["data"]
    assert envelope.aggregate_version is None


@pytest.mark.parametrize("content_type", [None, ""])
def test_a_message_without_a_content_type_is_read_as_json(content_type):
    body = encoded(a_results_message())

    envelope = parse_message(body, content_type)

    assert envelope.type == "results_published"


def test_a_content_type_other_than_json_is_refused():
    body = encoded(a_results_message())

    error = violation(body, "text/plain")

    assert error.code == "unsupported_content_type"


@pytest.mark.parametrize("body", [b"{not json", b"\xc3\x28", b""])
def test_a_body_that_is_not_json_is_refused(body):
    error = violation(body)

    assert error.code == "malformed_json"


def test_a_missing_envelope_field_is_named():
    message = a_results_message()
    del message["event_id"]

    error = violation(encoded(message))

    assert error.code == "schema_violation"
    assert error.reason == "envelope: missing event_id"


def test_a_reason_names_each_missing_field_once():
    message = a_results_message()
    del message["type"], message["producer"]

    error = violation(encoded(message))

    assert error.reason.count("missing type") == 1
    assert error.reason.count("producer") == 1


def test_a_type_without_a_contract_is_refused():
    message = a_results_message()
    message["type"] = "results_withdrawn"

    error = violation(encoded(message))

    assert error.code == "unknown_type"
    assert "results_withdrawn" in error.reason


def test_a_version_without_a_contract_is_refused():
    message = a_results_message()
    message["version"] = 2

    error = violation(encoded(message))

    assert error.code == "unknown_type"


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("id_number", "65010219930805219Z", "data.candidates[0].id_number"),
        ("name", "阿依古丽" * 30, "data.candidates[0].name"),
        ("registration_place", "650102199308052190", "[0].registration_place"),
    ],
)
def test_a_reason_names_the_failing_field_but_never_its_value(field, value, where):
    message = a_results_message()
    message["data"]["candidates"][0][field] = value

    error = violation(encoded(message))

    assert error.code == "schema_violation"
    assert where in error.reason
    assert value not in error.reason
    assert value not in str(error)


def test_a_field_the_contract_does_not_define_is_refused_without_its_value():
    message = a_results_message()
    message["data"]["candidates"][0]["phone"] = "13912345678"

    error = violation(encoded(message))

    assert "data.candidates[0]: has fields the contract does not define" in (
        error.reason
    )
    assert "13912345678" not in error.reason


def test_a_long_list_of_failures_is_cut_after_five():
    message = a_results_message(count=7)
    for candidate in message["data"]["candidates"]:
        candidate["id_number"] = "not a number"

    error = violation(encoded(message))

    assert error.reason.count("fails 'pattern'") == 5
    assert error.reason.endswith("(and 2 more)")


def test_an_occurred_at_that_is_no_calendar_date_is_a_contract_violation():
    message = a_results_message()
    message["occurred_at"] = "2025-02-30T10:00:00+08:00"

    error = violation(encoded(message))

    assert error.code == "invalid_date"
    assert "occurred_at" in error.reason


def test_the_same_recorded_event_always_gets_the_same_id():
    aggregate_id = uuid.uuid4()

    first = stable_event_id("certificates", aggregate_id, 3)
    again = stable_event_id("certificates", str(aggregate_id), 3)

    assert first == again


def test_each_version_of_an_aggregate_gets_its_own_event_id():
    aggregate_id = uuid.uuid4()

    ids = {stable_event_id("certificates", aggregate_id, v) for v in (1, 2, 3)}

    assert len(ids) == 3


def test_two_producers_facts_about_one_id_get_different_event_ids():
    shared = uuid.uuid4()

    certificate = stable_event_id("certificates", shared, 1)
    custody = stable_event_id("distribution", shared, 1)

    assert certificate != custody


def test_an_envelope_survives_its_own_json():
    envelope = Envelope(
        event_id=stable_event_id("exam_authority", "2025-eco", 1),
        type="results_published",
        version=1,
        occurred_at=datetime(2025, 11, 20, 4, 30, 15, 120000, tzinfo=UTC),
        producer="exam_authority",
        aggregate_id="2025-eco",
        data=a_results_message()["data"],
        aggregate_version=1,
    )

    parsed = parse_message(envelope.to_json(), "application/json")

    assert parsed == envelope


def test_a_lower_case_x_check_digit_meets_the_contract():
    message = a_results_message(1)
    message["data"]["candidates"][0]["id_number"] = "11010519491231002x"

    envelope = parse_message(encoded(message), "application/json")

    assert envelope.data["candidates"][0]["id_number"] == "11010519491231002x"
