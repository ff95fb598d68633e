import json
from datetime import date
from typing import Any

import pytest

from services.certificates.presentation import (
    CUSTODY_EXPIRED,
    NO_CERTIFICATES_NOTICE,
    XPCC_NOTICE,
    present,
)
from services.certificates.read_model import State

LAST_DAY_OF_CUSTODY = date(2030, 11, 9)


def row(**changes: Any) -> dict[str, Any]:
    base = {
        "certificate_id": "2e625c37-0ab9-5cd2-ab6b-c872f4b12411",
        "holder_id_number": "650102199308052190",
        "holder_name": "古丽",
        "certificate_number": "2025-eco-000001",
        "qualification_code": "economist",
        "qualification_name": "经济专业技术资格",
        "level": "中级",
        "specialty": None,
        "kind": "national_paper",
        "exam_session_id": "2025-eco",
        "exam_end_date": date(2025, 11, 9),
        "custody_until": LAST_DAY_OF_CUSTODY,
        "registration_place": "xinjiang",
        "state": State.IN_CUSTODY,
        "version": 1,
    }
    return base | changes


def shown(one_row: dict[str, Any], today: date = date(2026, 1, 5)) -> dict:
    (certificate,) = present([one_row], today)["certificates"]
    return certificate


def test_an_applicant_without_certificates_is_told_why_and_when_to_look_again():
    body = present([], date(2026, 1, 5))

    assert body == {"certificates": [], "notice": NO_CERTIFICATES_NOTICE}
    assert "没有查到您名下的证书" in body["notice"]


def test_a_list_with_certificates_carries_no_empty_list_notice():
    body = present([row()], date(2026, 1, 5))

    assert "notice" not in body


def test_an_xpcc_candidate_is_sent_to_the_xpcc_exam_institute():
    certificate = shown(row(registration_place="xpcc", state=State.SERVED_BY_XPCC))

    assert certificate["notice"] == XPCC_NOTICE
    assert "兵团人事考试机构" in certificate["notice"]
    assert "本平台没有您的证书领取信息" in certificate["notice"]
    assert certificate["next_actions"] == []


def test_an_xpcc_certificate_does_not_expire_into_a_reissue():
    xpcc = row(registration_place="xpcc", state=State.SERVED_BY_XPCC)

    certificate = shown(xpcc, today=date(2031, 1, 1))

    assert certificate["state"] == State.SERVED_BY_XPCC


def test_custody_still_holds_on_its_last_day():
    certificate = shown(row(), today=LAST_DAY_OF_CUSTODY)

    assert certificate["state"] == State.IN_CUSTODY
    assert certificate["next_actions"] == ["book_pickup", "request_mail"]
    assert "2030-11-09" in certificate["notice"]


def test_custody_has_expired_on_the_day_after_and_a_reissue_is_offered():
    certificate = shown(row(), today=date(2030, 11, 10))

    assert certificate["state"] == CUSTODY_EXPIRED
    assert certificate["state_label"] == "保管期已满"
    assert certificate["next_actions"] == ["apply_for_reissue"]
    assert "可申请补办" in certificate["notice"]


@pytest.mark.parametrize(
    ("state", "actions"),
    [
        (State.IN_CUSTODY, ["book_pickup", "request_mail"]),
        (State.AWAITING_INDUSTRY_SIGNATURE, ["wait"]),
        (State.AWAITING_HEALTH_COMMISSION, ["wait"]),
        (State.SERVED_BY_XPCC, []),
    ],
)
def test_each_state_offers_its_own_next_actions(state, actions):
    certificate = shown(row(state=state))

    assert certificate["next_actions"] == actions


def test_an_electronic_certificate_shows_no_custody_and_no_notice():
    electronic = row(
        kind="regional_health",
        custody_until=None,
        state=State.AWAITING_HEALTH_COMMISSION,
    )

    certificate = shown(electronic)

    assert certificate["custody_until"] is None
    assert certificate["notice"] is None
    assert certificate["state_label"] == "等待卫生健康委员会签发"


def test_dates_are_shown_as_iso_strings():
    certificate = shown(row())

    assert certificate["exam_end_date"] == "2025-11-09"
    assert certificate["custody_until"] == "2030-11-09"


def test_the_portal_body_never_carries_the_id_number():
    body = present([row()], date(2026, 1, 5))

    assert "650102199308052190" not in json.dumps(body, ensure_ascii=False)


def test_a_returned_reissue_shows_with_the_person_and_the_reviewers_message():
    certificate = shown(
        row(
            custody_state="collected",
            reissue_id="7d3c1f0e-2a4b-4c5d-8e9f-0a1b2c3d4e5f",
            reissue_state="returned",
            reissue_message="照片背景不是白色",
            reissue_review_due=None,
        )
    )

    assert certificate["reissue"]["state_label"] == "个人"
    assert certificate["reissue"]["message"] == "照片背景不是白色"
    assert certificate["next_actions"] == ["view_reissue"]


def test_a_reissue_in_the_ministrys_batch_says_how_long_to_expect():
    certificate = shown(
        row(
            custody_state="custody_expired",
            reissue_id="7d3c1f0e-2a4b-4c5d-8e9f-0a1b2c3d4e5f",
            reissue_state="in_batch",
            reissue_batch="2026-12",
        )
    )

    assert certificate["reissue"]["batch"] == "2026-12"
    assert "两到三个月" in certificate["reissue"]["notice"]
    assert "apply_for_reissue" not in certificate["next_actions"]


def test_a_synced_reissue_is_claimable_and_marked_reissued():
    certificate = shown(
        row(
            custody_state="in_custody",
            reissued=True,
            custody_until=date(2031, 12, 15),
            reissue_id="7d3c1f0e-2a4b-4c5d-8e9f-0a1b2c3d4e5f",
            reissue_state="synced",
        )
    )

    assert certificate["state"] == State.IN_CUSTODY
    assert certificate["reissued"] is True
    assert certificate["next_actions"] == ["book_pickup", "request_mail"]
    assert "补发证书" in certificate["notice"]


def test_an_industry_certificate_waits_for_the_centre_with_its_deadline():
    certificate = shown(
        row(
            kind="regional_industry",
            custody_until=None,
            state=State.AWAITING_CENTRE_SIGNATURE,
            centre_sign_by=date(2026, 1, 8),
        )
    )

    assert certificate["ecert"] == {"centre_sign_by": "2026-01-08", "download": None}
    assert "2026-01-08" in certificate["notice"]


def test_a_signed_e_certificate_offers_its_download():
    certificate = shown(
        row(kind="regional_health", custody_until=None, state=State.ECERT_DOWNLOADABLE)
    )

    assert certificate["next_actions"] == ["download_ecert"]
    assert certificate["ecert"]["download"] == (
        "/v1/me/certificates/2025-eco-000001/ecert"
    )
