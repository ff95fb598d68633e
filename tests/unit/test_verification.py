"""What public verification (查验) shows: as little personal data as it can."""

import uuid
from datetime import UTC, date, datetime

import pytest

from services.certificates.verification import (
    Status,
    answer,
    code_matches,
    masked_name,
    name_matches,
    verification_code,
)
from tests.support.certificates import registered

KEY = b"a verification key of the centre"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("王", "*"),
        ("古丽", "古*"),
        ("李文静", "李*静"),
        ("阿依古丽·买买提", "阿******提"),
    ],
)
def test_names_are_masked_to_their_first_and_last_characters(name, masked):
    assert masked_name(name) == masked


def test_the_qr_code_is_tied_to_one_certificate_and_one_key():
    code = verification_code(KEY, "2025-eco-000001")

    assert len(code) == 16
    assert code_matches(KEY, "2025-eco-000001", code.upper())
    assert not code_matches(KEY, "2025-eco-000002", code)
    assert not code_matches(b"another key", "2025-eco-000001", code)


def test_a_name_matches_whatever_its_spacing():
    assert name_matches(registered("N-1"), " 李文静 ")
    assert not name_matches(registered("N-1"), "李文")


def test_a_genuine_certificate_is_valid_and_shows_no_id_number():
    shown = answer(registered("N-1"), None)

    assert shown["status"] == Status.VALID
    assert shown["holder_name"] == "李*静"
    assert "650102199308052190" not in str(shown)


def test_a_reissued_certificate_voids_earlier_copies():
    shown = answer(registered("N-1"), date(2026, 12, 3))

    assert (shown["status"], shown["reissued_on"]) == (Status.REISSUED, "2026-12-03")
    assert "作废" in shown["notice"]


def test_revocation_wins_over_a_reissue_and_gives_its_reason():
    certificate = registered("N-1")
    certificate.revoke(
        uuid.uuid4(), "证书信息有误", datetime(2026, 12, 3, 2, tzinfo=UTC)
    )

    shown = answer(certificate, date(2026, 11, 1))

    assert (shown["status"], shown["reason"]) == (Status.REVOKED, "证书信息有误")
    assert shown["revoked_on"] == "2026-12-03"
