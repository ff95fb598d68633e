"""How reissue applications read in the review queue and the sync list."""

import uuid
from datetime import UTC, date, datetime

from services.common.workdays import WorkingCalendar
from services.reissue.presentation import queue_row, sync_row

CALENDAR = WorkingCalendar.from_default_file()


def row(**changes):
    base = {
        "application_id": uuid.uuid4(),
        "certificate_number": "2019-eco-000001",
        "holder_name": "李文静",
        "qualification_name": "经济专业技术资格",
        "level": "中级",
        "kind": "national_paper",
        "reason": "lost",
        "submitted_at": datetime(2026, 12, 3, 2, tzinfo=UTC),
        "submissions": 1,
        "review_due": date(2026, 12, 8),
        "period": "2026-12",
        "sync_due": date(2026, 12, 21),
    }
    return base | changes


def test_a_review_due_tomorrow_has_a_working_day_left():
    shown = queue_row(row(), CALENDAR, date(2026, 12, 7))

    assert (shown["working_days_left"], shown["overdue"]) == (1, False)


def test_the_due_day_itself_is_not_overdue():
    shown = queue_row(row(), CALENDAR, date(2026, 12, 8))

    assert (shown["working_days_left"], shown["overdue"]) == (0, False)


def test_a_review_past_its_day_is_overdue_by_working_days():
    shown = queue_row(row(), CALENDAR, date(2026, 12, 10))

    assert (shown["working_days_left"], shown["overdue"]) == (-2, True)


def test_a_sync_past_its_five_working_days_is_overdue():
    assert sync_row(row(), CALENDAR, date(2026, 12, 22))["overdue"] is True
    assert sync_row(row(), CALENDAR, date(2026, 12, 21))["overdue"] is False
