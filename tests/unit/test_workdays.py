import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.common.workdays import (
    BEIJING,
    CalendarYearNotCovered,
    RegionalHolidayFileError,
    WorkingCalendar,
)


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar.from_default_file()


def write_regional_file(tmp_path: Path, years: dict[str, list[dict[str, str]]]) -> Path:
    path = tmp_path / "regional.json"
    path.write_text(json.dumps({"years": years}), encoding="utf-8")
    return path


def days_from(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_a_friday_deadline_of_one_day_skips_the_weekend(calendar):
    friday = date(2025, 3, 7)

    deadline = calendar.add_working_days(friday, 1)

    assert deadline == date(2025, 3, 10)


def test_national_day_2025_closes_eight_days_and_works_two_weekends(calendar):
    golden_week = days_from(date(2025, 10, 1), date(2025, 10, 8))
    make_up_days = [date(2025, 9, 28), date(2025, 10, 11)]

    closed = [calendar.is_working_day(day) for day in golden_week]
    worked = [calendar.is_working_day(day) for day in make_up_days]

    assert closed == [False] * 8
    assert worked == [True, True]


def test_a_deadline_across_national_day_2025_lands_after_the_break(calendar):
    last_day_before_break = date(2025, 9, 30)

    deadline = calendar.add_working_days(last_day_before_break, 1)

    assert deadline == date(2025, 10, 9)


def test_spring_festival_2026_closes_nine_days_and_works_two_saturdays(calendar):
    festival = days_from(date(2026, 2, 15), date(2026, 2, 23))
    make_up_days = [date(2026, 2, 14), date(2026, 2, 28)]

    closed = [calendar.is_working_day(day) for day in festival]
    worked = [calendar.is_working_day(day) for day in make_up_days]

    assert closed == [False] * 9
    assert worked == [True, True]


def test_spring_festival_2026_deadline_counts_the_make_up_saturday(calendar):
    friday_before_festival = date(2026, 2, 13)

    deadline = calendar.add_working_days(friday_before_festival, 2)

    assert deadline == date(2026, 2, 24)


def test_an_event_on_a_saturday_starts_counting_on_monday(calendar):
    saturday = date(2025, 3, 8)

    deadline = calendar.add_working_days(saturday, 1)

    assert deadline == date(2025, 3, 10)


def test_an_event_on_a_holiday_counts_the_first_days_after_the_break(calendar):
    national_day = date(2025, 10, 1)

    deadline = calendar.add_working_days(national_day, 3)

    assert deadline == date(2025, 10, 11)


def test_an_event_on_a_make_up_working_day_does_not_count_that_day(calendar):
    make_up_saturday = date(2025, 10, 11)

    deadline = calendar.add_working_days(make_up_saturday, 1)

    assert deadline == date(2025, 10, 13)


def test_the_shipped_file_closes_the_office_on_rozi_2025(calendar):
    friday_before_rozi = date(2025, 3, 28)

    rozi_monday_works = calendar.is_working_day(date(2025, 3, 31))
    deadline = calendar.add_working_days(friday_before_rozi, 1)

    assert rozi_monday_works is False
    assert deadline == date(2025, 4, 1)


def test_a_regional_closure_read_from_a_given_file_is_skipped(tmp_path):
    path = write_regional_file(
        tmp_path, {"2025": [{"date": "2025-06-11", "name": "古尔邦节"}]}
    )
    calendar = WorkingCalendar.from_file(path)

    deadline = calendar.add_working_days(date(2025, 6, 10), 1)

    assert deadline == date(2025, 6, 12)


def test_a_regional_make_up_day_turns_a_saturday_into_a_working_day(tmp_path):
    path = write_regional_file(
        tmp_path,
        {"2025": [{"date": "2025-06-14", "name": "古尔邦节调休", "kind": "working"}]},
    )
    calendar = WorkingCalendar.from_file(path)

    deadline = calendar.add_working_days(date(2025, 6, 13), 1)

    assert deadline == date(2025, 6, 14)


def test_the_shipped_calendar_covers_exactly_2024_to_2026(calendar):
    covered = calendar.covered_years

    assert covered == {2024, 2025, 2026}


def test_a_year_without_a_state_council_schedule_is_refused(calendar):
    new_years_day_2027 = date(2027, 1, 1)

    with pytest.raises(CalendarYearNotCovered) as raised:
        calendar.is_working_day(new_years_day_2027)

    assert raised.value.year == 2027
    assert "2027" in str(raised.value)
    assert "holidays library" in str(raised.value)
    assert "regional holiday file" not in str(raised.value)


def test_a_year_missing_from_the_regional_file_is_refused(tmp_path):
    path = write_regional_file(tmp_path, {"2025": []})
    calendar = WorkingCalendar.from_file(path)

    with pytest.raises(CalendarYearNotCovered) as raised:
        calendar.is_working_day(date(2024, 7, 1))

    assert "2024" in str(raised.value)
    assert f"regional holiday file {path}" in str(raised.value)
    assert "holidays library" not in str(raised.value)


def test_a_deadline_running_into_an_uncovered_year_is_refused(calendar):
    last_week_of_2026 = date(2026, 12, 28)

    with pytest.raises(CalendarYearNotCovered, match="2027"):
        calendar.add_working_days(last_week_of_2026, 5)


def test_a_deadline_needs_at_least_one_working_day(calendar):
    with pytest.raises(ValueError, match="at least 1"):
        calendar.add_working_days(date(2025, 3, 3), 0)


def test_working_days_between_counts_after_start_up_to_end(calendar):
    start, end = date(2025, 9, 30), date(2025, 10, 13)

    ahead = calendar.working_days_between(start, end)
    behind = calendar.working_days_between(end, start)
    same_day = calendar.working_days_between(start, start)

    assert (ahead, behind, same_day) == (4, -4, 0)


def test_working_days_between_undoes_add_working_days(calendar):
    start = date(2026, 2, 13)
    deadline = calendar.add_working_days(start, 5)

    counted = calendar.working_days_between(start, deadline)

    assert counted == 5


def test_deadline_for_counts_from_the_beijing_date_of_the_event(calendar):
    thursday_evening_utc = datetime(2025, 3, 6, 17, 0, tzinfo=UTC)

    deadline = calendar.deadline_for(thursday_evening_utc, 1)

    assert deadline == datetime(2025, 3, 10, 23, 59, 59, 999999, tzinfo=BEIJING)
    assert deadline.tzinfo is BEIJING


def test_deadline_for_refuses_a_naive_datetime(calendar):
    naive = datetime(2025, 3, 6, 10, 0)

    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.deadline_for(naive, 3)


def test_a_file_that_is_not_json_is_refused_with_its_path(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"years": {"2025": [', encoding="utf-8")

    with pytest.raises(RegionalHolidayFileError) as raised:
        WorkingCalendar.from_file(path)

    assert str(path) in str(raised.value)
    assert "not valid JSON" in str(raised.value)


def test_a_malformed_date_is_refused_naming_year_entry_and_value(tmp_path):
    path = write_regional_file(
        tmp_path,
        {
            "2025": [
                {"date": "2025-03-31", "name": "肉孜节"},
                {"date": "31/03", "name": "x"},
            ]
        },
    )

    with pytest.raises(RegionalHolidayFileError) as raised:
        WorkingCalendar.from_file(path)

    assert "year 2025, entry 2" in str(raised.value)
    assert "'31/03'" in str(raised.value)


def test_a_date_filed_under_the_wrong_year_is_refused(tmp_path):
    path = write_regional_file(
        tmp_path, {"2025": [{"date": "2026-03-20", "name": "肉孜节"}]}
    )

    with pytest.raises(RegionalHolidayFileError, match="2026-03-20 is not in 2025"):
        WorkingCalendar.from_file(path)


def test_a_missing_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "absent.json"

    with pytest.raises(RegionalHolidayFileError, match="cannot read"):
        WorkingCalendar.from_file(path)
