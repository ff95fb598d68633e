"""Who may apply to reissue which certificate, decided before anything is uploaded."""

from datetime import date
from typing import Any

import pytest

from services.common.errors import Refusal
from services.reissue.eligibility import check_eligible, check_reason

HOLDER = "650102199308052190"
TODAY = date(2026, 12, 3)


def certificate(**changes: Any) -> dict[str, Any]:
    base = {
        "certificate_number": "2019-eco-000001",
        "holder_id_number": HOLDER,
        "kind": "national_paper",
        "registration_place": "xinjiang",
        "custody_until": date(2024, 6, 2),
        "custody_state": "custody_expired",
        "ecert_issued": False,
    }
    return base | changes


def refusal(row, reason="lost", holder=HOLDER) -> str:
    with pytest.raises(Refusal) as refused:
        check_eligible(row, holder, reason, TODAY)
    return refused.value.code


@pytest.mark.parametrize("reason", ["lost", "damaged", "custody_expired"])
def test_a_certificate_past_its_custody_may_be_reissued_for_any_reason(reason):
    assert check_eligible(certificate(), HOLDER, reason, TODAY)


def test_an_unknown_or_someone_elses_certificate_is_not_found():
    assert refusal(None) == "certificate_not_found"
    assert refusal(certificate(), holder="650102199001011234") == (
        "certificate_not_found"
    )


def test_xpcc_candidates_are_sent_to_the_xpcc():
    assert refusal(certificate(registration_place="xpcc")) == "served_by_xpcc"


def test_an_issued_e_certificate_rules_out_a_paper_reissue_and_points_to_it():
    with pytest.raises(Refusal) as refused:
        check_eligible(
            certificate(kind="regional_industry", ecert_issued=True),
            HOLDER,
            "lost",
            TODAY,
        )

    assert refused.value.code == "ecertificate_issued"
    assert "/v1/me/certificates/2019-eco-000001/ecert" in refused.value.message


@pytest.mark.parametrize("held", ["in_custody", "booked", "mail_requested"])
def test_a_certificate_the_centre_still_keeps_is_claimed_not_reissued(held):
    row = certificate(custody_until=date(2030, 11, 9), custody_state=held)

    assert refusal(row, "lost") == "still_in_custody"
    assert refusal(row, "custody_expired") == "custody_not_expired"


def test_custody_ends_by_the_calendar_before_the_sweep_records_it():
    row = certificate(custody_until=date(2026, 12, 2), custody_state="in_custody")

    assert check_eligible(row, HOLDER, "custody_expired", TODAY)
    assert check_eligible(row, HOLDER, "lost", TODAY)


def test_collected_certificates_may_be_reissued_when_lost_or_damaged():
    row = certificate(custody_until=date(2030, 11, 9), custody_state="collected")

    assert check_eligible(row, HOLDER, "damaged", TODAY)


def test_electronic_certificates_are_not_kept_so_cannot_expire_in_custody():
    row = certificate(kind="regional_health", custody_until=None, custody_state=None)

    assert refusal(row, "custody_expired") == "not_kept_by_centre"
    assert check_eligible(row, HOLDER, "lost", TODAY)


@pytest.mark.parametrize("reason", ["stolen", "", None, 3])
def test_only_the_three_reasons_of_the_service_guide_are_accepted(reason):
    with pytest.raises(Refusal) as refused:
        check_reason(reason)

    assert refused.value.code == "invalid_reason"


@pytest.mark.parametrize("claimed", ["collected", "shipped", "delivered"])
def test_a_claimed_certificate_was_not_left_unclaimed(claimed):
    row = certificate(custody_state=claimed)

    assert refusal(row, "custody_expired") == "already_claimed"
    assert check_eligible(row, HOLDER, "lost", TODAY)


def test_a_revoked_certificate_is_not_reissued():
    assert refusal(certificate(revoked=True)) == "certificate_revoked"
