"""How an applicant's certificates read on the portal: state, next step, in Chinese."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.certificates.domain import custody_has_expired
from services.certificates.read_model import State

CUSTODY_EXPIRED = "custody_expired"

LABELS = {
    State.IN_CUSTODY: "待领取（中心保管中）",
    CUSTODY_EXPIRED: "保管期已满",
    State.AWAITING_INDUSTRY_SIGNATURE: "等待行业主管部门签发",
    State.AWAITING_HEALTH_COMMISSION: "等待卫生健康委员会签发",
    State.SERVED_BY_XPCC: "由兵团人事考试机构发放",
}

NEXT_ACTIONS = {
    State.IN_CUSTODY: ["book_pickup", "request_mail"],
    CUSTODY_EXPIRED: ["apply_for_reissue"],
    State.AWAITING_INDUSTRY_SIGNATURE: ["wait"],
    State.AWAITING_HEALTH_COMMISSION: ["wait"],
    State.SERVED_BY_XPCC: [],
}

XPCC_NOTICE = (
    "您的考试报名地为新疆生产建设兵团。兵团考生的证书由兵团人事考试机构发放，"
    "本平台没有您的证书领取信息，请联系兵团人事考试机构。"
)
NO_CERTIFICATES_NOTICE = (
    "没有查到您名下的证书。考试成绩达到合格标准后，证书信息由考试机构推送到本平台，"
    "请稍后再查。"
)


def present(rows: list[dict[str, Any]], today: date) -> dict[str, Any]:
    certificates = [_certificate(row, today) for row in rows]
    body: dict[str, Any] = {"certificates": certificates}
    if not certificates:
        body["notice"] = NO_CERTIFICATES_NOTICE
    return body


def _certificate(row: dict[str, Any], today: date) -> dict[str, Any]:
    state = _state(row, today)
    return {
        "certificate_number": row["certificate_number"],
        "qualification": {
            "code": row["qualification_code"],
            "name": row["qualification_name"],
            "level": row["level"],
            "specialty": row["specialty"],
        },
        "kind": row["kind"],
        "holder_name": row["holder_name"],
        "exam_end_date": row["exam_end_date"].isoformat(),
        "custody_until": _iso(row["custody_until"]),
        "state": state,
        "state_label": LABELS[state],
        "next_actions": NEXT_ACTIONS[state],
        "notice": _notice(state, row),
    }


def _state(row: dict[str, Any], today: date) -> str:
    # Custody ends by the calendar, not by an event: decide it on every read.
    if row["state"] == State.IN_CUSTODY and custody_has_expired(
        row["custody_until"], today
    ):
        return CUSTODY_EXPIRED
    return row["state"]


def _notice(state: str, row: dict[str, Any]) -> str | None:
    if state == State.SERVED_BY_XPCC:
        return XPCC_NOTICE
    if state == State.IN_CUSTODY:
        return (
            f"证书由中心保管至{row['custody_until'].isoformat()}，"
            "可预约周二、周四现场自取，或申请邮寄（邮费自理）。"
        )
    if state == CUSTODY_EXPIRED:
        return "证书保管期已满，中心不再保管，可申请补办。"
    return None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
