"""How an applicant's certificates read on the portal: state, next step, in Chinese."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.certificates.domain import custody_has_expired
from services.certificates.read_model import State
from services.common.workdays import BEIJING

CUSTODY_EXPIRED = "custody_expired"
BOOKED = "booked"
MAIL_REQUESTED = "mail_requested"
SHIPPED = "shipped"
DELIVERED = "delivered"
COLLECTED = "collected"

LABELS = {
    State.IN_CUSTODY: "待领取（中心保管中）",
    BOOKED: "已预约现场领取",
    MAIL_REQUESTED: "已申请邮寄，待寄出",
    SHIPPED: "已寄出",
    DELIVERED: "已送达",
    COLLECTED: "已领取",
    CUSTODY_EXPIRED: "保管期已满",
    State.AWAITING_INDUSTRY_SIGNATURE: "等待行业主管部门签发",
    State.AWAITING_CENTRE_SIGNATURE: "行业主管部门已签发，等待中心签章",
    State.AWAITING_HEALTH_COMMISSION: "等待卫生健康委员会签发",
    State.ECERT_DOWNLOADABLE: "电子证书可下载",
    State.SERVED_BY_XPCC: "由兵团人事考试机构发放",
    State.REVOKED: "已注销",
}

NEXT_ACTIONS = {
    State.IN_CUSTODY: ["book_pickup", "request_mail"],
    BOOKED: ["move_booking", "cancel_booking", "name_proxy"],
    MAIL_REQUESTED: ["edit_mail_request"],
    SHIPPED: [],
    # A certificate in the holder's hands may later be lost or damaged.
    DELIVERED: ["apply_for_reissue"],
    COLLECTED: ["apply_for_reissue"],
    CUSTODY_EXPIRED: ["apply_for_reissue"],
    State.AWAITING_INDUSTRY_SIGNATURE: ["wait"],
    State.AWAITING_CENTRE_SIGNATURE: ["wait"],
    State.AWAITING_HEALTH_COMMISSION: ["wait"],
    State.ECERT_DOWNLOADABLE: ["download_ecert"],
    State.SERVED_BY_XPCC: [],
    State.REVOKED: [],
}

REISSUE_LABELS = {
    "draft": "补办申请草稿",
    "submitted": "补办申请待审核",
    "returned": "个人",
    "approved": "补办申请已通过",
    "in_batch": "补办已报部制作",
    "arrived": "补发证书已到达，数据同步中",
    "synced": "补发证书可领取",
}
REISSUE_OPEN = frozenset({"draft", "submitted", "returned", "approved", "in_batch"})
# Offered beside a certificate's own next actions while its reissue is under way.
VIEW_REISSUE = "view_reissue"
EXPECTED_WAIT = "部里按月审核制作补发证书，审核通过后一般需要两到三个月。"

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
        # The day the ministry's printed certificate reached the centre, if known.
        "printed_on": _iso(row.get("printed_on")),
        "state": state,
        "state_label": LABELS[state],
        "reissued": bool(row.get("reissued")),
        "next_actions": _next_actions(state, row),
        "notice": _notice(state, row),
        "booking": _booking(state, row),
        "mail": _mail(state, row),
        "ecert": _ecert(state, row),
        "reissue": _reissue(row),
    }


def _next_actions(state: str, row: dict[str, Any]) -> list[str]:
    actions = NEXT_ACTIONS[state]
    if _reissue_under_way(state, row):
        return [a for a in actions if a != "apply_for_reissue"] + [VIEW_REISSUE]
    return actions


def _reissue_under_way(state: str, row: dict[str, Any]) -> bool:
    reissue = row.get("reissue_state")
    # An approved e-certificate reissue is done once the e-certificate is issued.
    if reissue == "approved" and state == State.ECERT_DOWNLOADABLE:
        return False
    return reissue in REISSUE_OPEN | {"arrived"}


def _ecert(state: str, row: dict[str, Any]) -> dict[str, Any] | None:
    if state == State.AWAITING_CENTRE_SIGNATURE:
        sign_by = row.get("centre_sign_by")
        return {"centre_sign_by": _iso(sign_by), "download": None}
    if state == State.ECERT_DOWNLOADABLE:
        number = row["certificate_number"]
        return {
            "centre_sign_by": None,
            "download": f"/v1/me/certificates/{number}/ecert",
        }
    return None


def _reissue(row: dict[str, Any]) -> dict[str, Any] | None:
    state = row.get("reissue_state")
    if state is None:
        return None
    return {
        "application_id": str(row["reissue_id"]),
        "state": state,
        "state_label": REISSUE_LABELS[state],
        "message": row.get("reissue_message") if state == "returned" else None,
        "review_due": _iso(row.get("reissue_review_due")),
        "batch": row.get("reissue_batch"),
        "sync_due": _iso(row.get("reissue_sync_due")),
        "notice": EXPECTED_WAIT if state == "in_batch" else None,
    }


def _state(row: dict[str, Any], today: date) -> str:
    if row["state"] == State.REVOKED:
        return State.REVOKED
    # Distribution knows where a kept certificate stands once it has it on record.
    state = row.get("custody_state") or row["state"]
    # Custody ends by the calendar; the day's sweep records it, but the holder
    # must not see a claimable certificate meanwhile: decide it on every read.
    if state == State.IN_CUSTODY and custody_has_expired(row["custody_until"], today):
        return CUSTODY_EXPIRED
    return state


def _notice(state: str, row: dict[str, Any]) -> str | None:
    if state == State.SERVED_BY_XPCC:
        return XPCC_NOTICE
    if state == State.IN_CUSTODY:
        return _in_custody_notice(row)
    if state == BOOKED:
        return (
            f"请于 {_beijing(row['starts_at'])} 至 {_beijing(row['ends_at'])[-5:]} "
            "携带本人身份证件到发证窗口领取；他人代领须携带双方身份证件和委托书。"
        )
    if state == MAIL_REQUESTED:
        return f"中心将于 {row['ship_by'].isoformat()} 前寄出，邮费到付。"
    if state == SHIPPED:
        return f"证书已寄出，运单号 {row['tracking_number']}。"
    if state == CUSTODY_EXPIRED:
        return "证书保管期已满，中心不再保管，可申请补办。"
    if state == State.REVOKED:
        reason = (row.get("revocation_reason") or "").rstrip("。. ")
        return f"证书已注销：{reason}。如有疑问请咨询中心。"
    if state == State.AWAITING_CENTRE_SIGNATURE and row.get("centre_sign_by"):
        due = row["centre_sign_by"].isoformat()
        return f"中心将于 {due} 前签章，之后即可下载电子证书。"
    return None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _in_custody_notice(row: dict[str, Any]) -> str:
    if row.get("reissued"):
        return (
            f"补发证书已到中心，保管至{row['custody_until'].isoformat()}，"
            "可预约周二、周四现场自取，或申请邮寄（邮费自理）。"
        )
    kept = (
        f"证书由中心保管至{row['custody_until'].isoformat()}，"
        "可预约周二、周四现场自取，或申请邮寄（邮费自理）。"
    )
    if row.get("released_because") == "day_closed":
        return "您预约的日期停止发证，预约已取消，请重新预约。" + kept
    if row.get("released_because") == "no_show":
        return "您未在预约时段领取，预约已失效，可重新预约。" + kept
    if row.get("days_left") is not None:
        return f"保管期还剩 {row['days_left']} 天以内，请尽快领取。" + kept
    return kept


def _beijing(moment: Any) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _booking(state: str, row: dict[str, Any]) -> dict[str, str] | None:
    if state != BOOKED:
        return None
    return {
        "starts_at": row["starts_at"].astimezone(BEIJING).isoformat(),
        "ends_at": row["ends_at"].astimezone(BEIJING).isoformat(),
    }


def _mail(state: str, row: dict[str, Any]) -> dict[str, Any] | None:
    if state not in (MAIL_REQUESTED, SHIPPED, DELIVERED):
        return None
    return {
        "ship_by": _iso(row.get("ship_by")),
        "tracking_number": row.get("tracking_number"),
    }
