import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from stdnum.cn import ric

from services.certificates.catalogue import qualification
from services.certificates.results import read_results
from services.common.envelope import ContractViolation, Envelope
from tools.exam_authority import results_message, sample_candidates


def candidates(count: int) -> list[dict[str, Any]]:
    return sample_candidates("2025-eco", count)


def envelope_of(people: list[dict[str, Any]], **session: str) -> Envelope:
    message = results_message("2025-eco", people, **session)
    return Envelope(
        event_id=uuid.uuid4(),
        type=message["type"],
        version=message["version"],
        occurred_at=datetime.now(UTC),
        producer=message["producer"],
        aggregate_id=message["aggregate_id"],
        data=message["data"],
    )


def with_wrong_check_digit(id_number: str) -> str:
    return id_number[:17] + ("1" if id_number[17] == "0" else "0")


def refusal(envelope: Envelope) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        read_results(envelope)
    return caught.value


def test_passed_candidates_are_read_with_their_session():
    people = candidates(3)

    results = read_results(envelope_of(people, exam_end_date="2025-11-09"))

    assert results.session.qualification == qualification("economist")
    assert results.session.level == "中级"
    assert results.session.exam_end_date == date(2025, 11, 9)
    assert [c.id_number for c in results.candidates] == [p["id_number"] for p in people]


def test_invalid_id_numbers_are_refused_by_their_positions():
    people = candidates(5)
    for position in (1, 3):
        people[position]["id_number"] = with_wrong_check_digit(
            people[position]["id_number"]
        )

    error = refusal(envelope_of(people))

    assert error.code == "invalid_id_number"
    assert error.reason.startswith("2 candidate(s)")
    assert error.reason.endswith("at positions 1, 3")


def test_the_reason_never_contains_the_invalid_id_number_or_the_name():
    people = candidates(1)
    bad = with_wrong_check_digit(people[0]["id_number"])
    people[0]["id_number"] = bad

    error = refusal(envelope_of(people))

    assert bad not in str(error)
    assert bad[:17] not in str(error)
    assert people[0]["name"] not in str(error)


def test_an_id_number_with_an_impossible_birth_date_is_refused():
    body = "65010219930230219"
    people = candidates(1)
    people[0]["id_number"] = body + ric.calc_check_digit(body + "0")

    error = refusal(envelope_of(people))

    assert error.code == "invalid_id_number"


def test_more_than_twenty_bad_positions_are_cut_short():
    people = candidates(25)
    for person in people:
        person["id_number"] = with_wrong_check_digit(person["id_number"])

    error = refusal(envelope_of(people))

    assert error.reason.startswith("25 candidate(s)")
    assert error.reason.endswith(", 18, 19 ...")


def test_candidates_sharing_a_certificate_number_are_refused_by_position():
    people = candidates(4)
    people[3]["certificate_number"] = people[1]["certificate_number"]

    error = refusal(envelope_of(people))

    assert error.code == "repeated_certificate_number"
    assert "positions 1, 3 share" in error.reason
    assert people[1]["certificate_number"] not in error.reason


def test_an_unknown_qualification_is_refused():
    envelope = envelope_of(candidates(1), qualification_code="astronaut")

    error = refusal(envelope)

    assert error.code == "unknown_qualification"


def test_an_exam_end_date_that_is_no_calendar_date_is_refused():
    envelope = envelope_of(candidates(1), exam_end_date="2025-02-30")

    error = refusal(envelope)

    assert error.code == "invalid_date"
    assert "2025-02-30" not in error.reason


def test_a_lower_case_x_check_digit_is_read_as_upper_case():
    body = "65010219890804064"
    people = candidates(1)
    people[0]["id_number"] = body + "x"

    results = read_results(envelope_of(people))

    assert results.candidates[0].id_number == body + "X"
