"""The deadline report's figures, from rows in memory and the default calendar."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from rich.console import Console

from services.common.workdays import BEIJING, WorkingCalendar
from services.notifications.deadlines import DeadlineKind
from services.notifications.report import (
    DeadlineRow,
    KindSummary,
    previous_month,
    render_table,
    summarize,
    write_csv,
)

REVIEW = DeadlineKind.REVIEW


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar.from_default_file()


def beijing(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BEIJING)


def review(
    started: date,
    due: date,
    met: datetime | None = None,
    cancelled: datetime | None = None,
) -> DeadlineRow:
    return DeadlineRow(REVIEW, beijing(started), due, met, cancelled)


def of_kind(summaries: list[KindSummary], kind: DeadlineKind) -> KindSummary:
    return next(summary for summary in summaries if summary.kind is kind)


def test_every_kind_is_listed_in_order_with_zeros_for_an_empty_period(calendar):
    summaries = summarize([], calendar, date(2025, 4, 30))

    assert [s.kind for s in summaries] == list(DeadlineKind)
    assert [(s.label, s.working_days) for s in summaries] == [
        ("补办资料审核", 3),
        ("电子证书中心签章", 3),
        ("证书邮寄寄出", 3),
        ("补办证书数据同步", 5),
    ]
    for summary in summaries:
        assert (
            summary.started,
            summary.met_on_time,
            summary.met_late,
            summary.open,
            summary.overdue,
            summary.cancelled,
        ) == (0, 0, 0, 0, 0, 0)
        assert summary.median_days is None
        assert summary.worst_days is None
        assert summary.worst_overdue_days is None


def test_time_taken_skips_the_regional_holiday(calendar):
    # Thursday 27 March 2025; 肉孜节 closes 29-31 March; 清明 closes 4-6 April.
    started, due = date(2025, 3, 27), date(2025, 4, 2)
    rows = [
        review(started, due, met=beijing(date(2025, 3, 31))),
        review(started, due, met=beijing(date(2025, 4, 1))),
        review(started, due, met=beijing(date(2025, 4, 7))),
    ]

    summary = of_kind(summarize(rows, calendar, date(2025, 4, 30)), REVIEW)

    assert (summary.started, summary.met_on_time, summary.met_late) == (3, 2, 1)
    # Met on: Monday 31 March → 1 (28th only); 1 April → 2; 7 April → 5.
    assert summary.median_days == 2.0
    assert summary.worst_days == 5


def test_met_on_the_due_day_in_beijing_is_on_time_and_after_its_midnight_late(
    calendar,
):
    started, due = date(2025, 3, 27), date(2025, 4, 2)
    rows = [
        # 23:30 on the due day in Beijing is still 2 April there.
        review(started, due, met=datetime(2025, 4, 2, 15, 30, tzinfo=UTC)),
        # 00:30 Beijing on 3 April, though still 2 April in UTC.
        review(started, due, met=datetime(2025, 4, 2, 16, 30, tzinfo=UTC)),
    ]

    summary = of_kind(summarize(rows, calendar, date(2025, 4, 30)), REVIEW)

    assert (summary.met_on_time, summary.met_late) == (1, 1)
    assert (summary.median_days, summary.worst_days) == (3.5, 4)


def test_cancelled_deadlines_count_only_as_cancelled(calendar):
    started, due = date(2025, 3, 27), date(2025, 4, 2)
    withdrawn = beijing(date(2025, 3, 28))
    rows = [
        review(started, due, met=beijing(date(2025, 4, 1))),
        review(started, due, cancelled=withdrawn),
        review(started, due, met=beijing(date(2025, 4, 30)), cancelled=withdrawn),
    ]

    summary = of_kind(summarize(rows, calendar, date(2025, 5, 6)), REVIEW)

    assert summary.cancelled == 2
    assert (summary.started, summary.met_on_time, summary.met_late) == (1, 1, 0)
    assert (summary.open, summary.overdue, summary.worst_overdue_days) == (0, 0, None)
    assert (summary.median_days, summary.worst_days) == (2.0, 2)


def test_open_deadlines_are_overdue_only_after_their_due_day(calendar):
    rows = [
        review(date(2025, 3, 27), due=date(2025, 4, 2)),
        review(date(2025, 3, 31), due=date(2025, 4, 3)),
        review(date(2025, 4, 1), due=date(2025, 4, 7)),
    ]

    summary = of_kind(summarize(rows, calendar, date(2025, 4, 7)), REVIEW)

    assert (summary.started, summary.open, summary.overdue) == (3, 3, 2)
    # From 2 April to Monday 7 April: the 3rd, then 清明 and the weekend, then the 7th.
    assert summary.worst_overdue_days == 2
    assert (summary.median_days, summary.worst_days) == (None, None)


def test_overdue_by_zero_working_days_when_only_days_off_have_passed(calendar):
    # Due Thursday 3 April 2025; Friday 4 April is 清明.
    rows = [review(date(2025, 3, 31), due=date(2025, 4, 3))]

    summary = of_kind(summarize(rows, calendar, date(2025, 4, 5)), REVIEW)

    assert (summary.overdue, summary.worst_overdue_days) == (1, 0)


def test_other_kinds_are_counted_apart(calendar):
    shipment = DeadlineRow(
        DeadlineKind.MAIL_SHIPMENT,
        beijing(date(2025, 3, 27)),
        date(2025, 4, 2),
        met_at=beijing(date(2025, 4, 3)),
    )

    summaries = summarize([shipment], calendar, date(2025, 4, 30))

    assert of_kind(summaries, DeadlineKind.MAIL_SHIPMENT).met_late == 1
    assert of_kind(summaries, REVIEW).started == 0


def test_previous_month_crosses_the_new_year():
    assert previous_month(date(2027, 1, 15)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert previous_month(date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 2, 28))


def test_csv_has_field_names_and_leaves_missing_figures_empty(calendar):
    started, due = date(2025, 3, 27), date(2025, 4, 2)
    rows = [
        review(started, due, met=beijing(date(2025, 3, 31))),
        review(started, due, met=beijing(date(2025, 4, 3))),
    ]
    out = io.StringIO()

    write_csv(summarize(rows, calendar, date(2025, 4, 30)), out)

    lines = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [line["kind"] for line in lines] == [kind.value for kind in DeadlineKind]
    assert lines[0] == {
        "kind": "review",
        "label": "补办资料审核",
        "working_days": "3",
        "started": "2",
        "met_on_time": "1",
        "met_late": "1",
        "open": "0",
        "overdue": "0",
        "cancelled": "0",
        "median_days": "2.5",
        "worst_days": "4",
        "worst_overdue_days": "",
    }
    assert (lines[3]["median_days"], lines[3]["worst_days"]) == ("", "")


def test_table_shows_commitments_and_a_dash_for_missing_figures(calendar):
    rows = [review(date(2025, 3, 27), date(2025, 4, 2), met=beijing(date(2025, 4, 1)))]
    console = Console(width=250, record=True)

    console.print(
        render_table(
            summarize(rows, calendar, date(2025, 4, 30)),
            date(2025, 3, 1),
            date(2025, 3, 31),
        )
    )

    text = console.export_text()
    assert "deadlines started 2025-03-01 to 2025-03-31" in text
    cells = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in text.splitlines()
        if "个工作日" in line
    ]
    assert cells[0] == [
        "补办资料审核",
        "3 个工作日",
        *("1", "1", "0", "0", "0", "0"),
        *("2", "2", "—"),
    ]
    assert cells[3][0:2] == ["补办证书数据同步", "5 个工作日"]
    assert cells[3][-3:] == ["—", "—", "—"]
