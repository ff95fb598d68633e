"""How reissue applications read: for the holder, in the review queue, for the sync.

A returned application shows "个人": it lies with the person, who edits and
resubmits. The holder sees every step of the history, without staff names.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.common.workdays import BEIJING, WorkingCalendar
from services.reissue.domain import Application, Path, State
from services.reissue.materials import Material

EXPECTED_WAIT = "部里按月审核制作补发证书，审核通过后一般需要两到三个月。"

STATE_LABELS = {
    State.DRAFT: "草稿",
    State.SUBMITTED: "待审核",
    State.RETURNED: "个人",
    State.APPROVED: "审核通过",
    State.IN_BATCH: "已报部制作",
    State.ARRIVED: "证书已到达，数据同步中",
    State.SYNCED: "可领取",
    State.WITHDRAWN: "已撤回",
}

NOTICES = {
    State.DRAFT: "请上传材料并提交审核。",
    State.SUBMITTED: "中心将在 3 个工作日内审核并在线反馈。",
    State.RETURNED: "申请已退回给您（个人），请按审核意见修改后重新提交。",
    State.IN_BATCH: EXPECTED_WAIT,
    State.ARRIVED: "补发证书已到达，中心将在 5 个工作日内同步数据，之后即可领取。",
    State.SYNCED: "补发证书可以领取了：可预约周二、周四现场自取，或申请邮寄。",
    State.WITHDRAWN: None,
}

APPROVED_NOTICES = {
    Path.INDUSTRY_SIGNATURE: (
        "审核通过。行业主管部门签发后，中心在 3 个工作日内签章，之后即可下载电子证书。"
    ),
    Path.HEALTH_COMMISSION: "审核通过。卫生健康委员会签发后即可下载电子证书。",
    Path.MINISTRY_BATCH: EXPECTED_WAIT,
}

# Steps of the history, by the stored event's class name.
STEPS = {
    "Started": "申请创建",
    "ReasonChanged": "修改补办原因",
    "MaterialAttached": "上传材料",
    "MaterialRemoved": "删除材料",
    "Submitted": "提交审核",
    "Returned": "退回申请人",
    "Approved": "审核通过",
    "Batched": "报部制作",
    "Arrived": "补发证书到达",
    "Synced": "数据同步，可领取",
    "Withdrawn": "撤回申请",
}
STAFF_FIELDS = ("reviewer_id", "synced_by")


def application_detail(
    application: Application, history: list[Any], *, staff: bool
) -> dict[str, Any]:
    body = {
        "application_id": str(application.id),
        "certificate_number": application.certificate_number,
        "qualification": {
            "name": application.qualification_name,
            "level": application.level,
        },
        "kind": application.kind,
        "reason": application.reason,
        **_state(application.state, application.path),
        "review_due": _iso(application.review_due),
        "sync_due": _iso(application.sync_due),
        "materials": [
            _material(material, application.materials.get(material))
            for material in Material
        ],
        "history": [_step(event, staff) for event in history],
    }
    if staff:
        body["holder_name"] = application.holder_name
    return body


def _material(material: Material, held: dict | None) -> dict[str, Any]:
    return {
        "material": material.value,
        "title": material.label,
        "required": material.required,
        "uploaded": held is not None,
        "content_type": held["content_type"] if held else None,
        "size": held["size"] if held else None,
    }


def application_summary(row: dict[str, Any]) -> dict[str, Any]:
    path = Path.BY_KIND[row["kind"]]
    return {
        "application_id": str(row["application_id"]),
        "certificate_number": row["certificate_number"],
        "qualification": {"name": row["qualification_name"], "level": row["level"]},
        "reason": row["reason"],
        **_state(row["state"], path),
        "message": row["last_message"] if row["state"] == State.RETURNED else None,
        "review_due": _iso(row["review_due"]),
        "batch": row["period"],
        "sync_due": _iso(row["sync_due"]),
    }


def queue_row(
    row: dict[str, Any], calendar: WorkingCalendar, today: date
) -> dict[str, Any]:
    due = row["review_due"]
    return {
        "application_id": str(row["application_id"]),
        "certificate_number": row["certificate_number"],
        "holder_name": row["holder_name"],
        "qualification": {"name": row["qualification_name"], "level": row["level"]},
        "kind": row["kind"],
        "reason": row["reason"],
        "submitted_at": row["submitted_at"].astimezone(BEIJING).isoformat(),
        "submissions": row["submissions"],
        "review_due": due.isoformat(),
        "working_days_left": calendar.working_days_between(today, due),
        "overdue": today > due,
    }


def sync_row(
    row: dict[str, Any], calendar: WorkingCalendar, today: date
) -> dict[str, Any]:
    due = row["sync_due"]
    return {
        "application_id": str(row["application_id"]),
        "certificate_number": row["certificate_number"],
        "holder_name": row["holder_name"],
        "batch": row["period"],
        "sync_due": due.isoformat(),
        "working_days_left": calendar.working_days_between(today, due),
        "overdue": today > due,
    }


def _state(state: str, path: str) -> dict[str, Any]:
    notice = NOTICES.get(state)
    if state == State.APPROVED:
        notice = APPROVED_NOTICES[path]
    return {"state": state, "state_label": STATE_LABELS[state], "notice": notice}


def _step(event: Any, staff: bool) -> dict[str, Any]:
    name = type(event).__name__
    step: dict[str, Any] = {
        "step": name,
        "label": STEPS.get(name, name),
        "at": event.timestamp.astimezone(BEIJING).isoformat(),
    }
    for field in ("message", "problems", "material", "reason", "period"):
        if hasattr(event, field) and name != "Started":
            step[field] = getattr(event, field)
    if staff:
        for field in STAFF_FIELDS:
            if hasattr(event, field):
                step["by"] = str(getattr(event, field))
    return step


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
