import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from services.common.workdays import (
    BEIJING,
    DEFAULT_REGIONAL_FILE,
    CalendarYearNotCovered,
    NationalArrangement,
    RegionalDay,
    RegionalHolidayFileError,
    WorkingCalendar,
    YearData,
)

SHIPPED = json.loads(DEFAULT_REGIONAL_FILE.read_text(encoding="utf-8"))
FIRST_COVERED, LAST_COVERED = date(2024, 1, 1), date(2027, 12, 31)
# 40 working days never take more than about 70 calendar days, even across the
# Spring Festival, so a start before October stays inside the covered years.
LAST_START = date(2027, 9, 30)
MAX_N = 40

# An example counts across up to four years of days; a slow CI machine must not
# turn that into a flaky deadline failure.
PROPERTY = settings(deadline=None, max_examples=150)
covered_days = st.dates(FIRST_COVERED, LAST_COVERED)
start_days = st.dates(FIRST_COVERED, LAST_START)
counts = st.integers(1, MAX_N)


_shipped_calendar = WorkingCalendar.from_default_file()


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return _shipped_calendar


_china = holidays.China(years=range(FIRST_COVERED.year - 1, LAST_COVERED.year + 2))


def write_calendar_file(tmp_path: Path, years: dict[str, Any]) -> Path:
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps({"years": years}), encoding="utf-8")
    return path


def regional(*entries: dict[str, str]) -> dict[str, Any]:
    return {"regional": list(entries)}


def days_from(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def missing_year_count(year: int) -> float:
    labels = {"year": str(year)}
    return REGISTRY.get_sample_value("calendar_year_missing_total", labels) or 0.0


def raw_national(raw_year: dict[str, Any]) -> tuple[set[date], set[date]]:
    national = raw_year["national"]
    days_off = {
        day
        for entry in national["days_off"]
        for day in days_from(
            date.fromisoformat(entry["from"]), date.fromisoformat(entry["to"])
        )
    }
    make_up = {date.fromisoformat(e["date"]) for e in national["make_up_days"]}
    return days_off, make_up


def expected_working(day: date) -> bool:
    """The rule written out independently: regional notice, then national days."""
    raw_year = SHIPPED["years"][str(day.year)]
    kinds = {e["date"]: e.get("kind", "closed") for e in raw_year["regional"]}
    if day.isoformat() in kinds:
        return kinds[day.isoformat()] == "working"
    if "national" in raw_year:
        days_off, make_up = raw_national(raw_year)
        return day in make_up or (day.weekday() < 5 and day not in days_off)
    return _china.is_working_day(day)


def is_make_up_day(day: date) -> bool:
    raw_year = SHIPPED["years"][str(day.year)]
    regional_worked = {
        e["date"] for e in raw_year["regional"] if e.get("kind") == "working"
    }
    if "national" in raw_year:
        national_make_up = raw_national(raw_year)[1]
    else:
        national_make_up = _china.weekend_workdays
    return day in national_make_up or day.isoformat() in regional_worked


# Examples


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


def test_the_shipped_file_closes_the_office_for_corban_2025(calendar):
    corban = days_from(date(2025, 6, 6), date(2025, 6, 10))

    worked = [calendar.is_working_day(day) for day in corban]

    assert worked == [False] * 5


def test_a_regional_closure_read_from_a_given_file_is_skipped(tmp_path):
    path = write_calendar_file(
        tmp_path, {"2025": regional({"date": "2025-06-11", "name": "古尔邦节"})}
    )
    calendar = WorkingCalendar.from_file(path)

    deadline = calendar.add_working_days(date(2025, 6, 10), 1)

    assert deadline == date(2025, 6, 12)


def test_a_regional_make_up_day_turns_a_saturday_into_a_working_day(tmp_path):
    make_up = {"date": "2025-06-14", "name": "古尔邦节调休", "kind": "working"}
    path = write_calendar_file(tmp_path, {"2025": regional(make_up)})
    calendar = WorkingCalendar.from_file(path)

    deadline = calendar.add_working_days(date(2025, 6, 13), 1)

    assert deadline == date(2025, 6, 14)


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


# Known dates, checked against holidays 0.109 and the State Council notices.

KNOWN_DAYS = [
    # 2024 春节: 2/10-2/17 off, 2/4 and 2/18 worked; 除夕 was still a working day.
    (date(2024, 2, 4), True),
    (date(2024, 2, 9), True),
    (date(2024, 2, 10), False),
    (date(2024, 2, 15), False),
    (date(2024, 2, 16), False),
    (date(2024, 2, 18), True),
    (date(2024, 2, 19), True),
    # 2024 清明: 4/4-4/6 off, 4/7 worked.
    (date(2024, 4, 4), False),
    (date(2024, 4, 5), False),
    (date(2024, 4, 7), True),
    # 2024 劳动节: 5/1-5/5 off, 4/28 and 5/11 worked.
    (date(2024, 4, 28), True),
    (date(2024, 5, 1), False),
    (date(2024, 5, 3), False),
    (date(2024, 5, 6), True),
    (date(2024, 5, 11), True),
    # 2024 端午: 6/10 off.
    (date(2024, 6, 10), False),
    # 2024 中秋: 9/15-9/17 off, 9/14 worked.
    (date(2024, 9, 14), True),
    (date(2024, 9, 16), False),
    (date(2024, 9, 17), False),
    (date(2024, 9, 18), True),
    # 2024 国庆: 10/1-10/7 off, 9/29 and 10/12 worked.
    (date(2024, 9, 29), True),
    (date(2024, 10, 1), False),
    (date(2024, 10, 4), False),
    (date(2024, 10, 7), False),
    (date(2024, 10, 8), True),
    (date(2024, 10, 12), True),
    # 2025 春节: 1/28-2/4 off (除夕 now included), 1/26 and 2/8 worked.
    (date(2025, 1, 26), True),
    (date(2025, 1, 28), False),
    (date(2025, 2, 4), False),
    (date(2025, 2, 5), True),
    (date(2025, 2, 8), True),
    # 2025 清明: 4/4-4/6 off.
    (date(2025, 4, 4), False),
    (date(2025, 4, 7), True),
    # 2025 劳动节: 5/1-5/5 off, 4/27 worked.
    (date(2025, 4, 27), True),
    (date(2025, 5, 2), False),
    (date(2025, 5, 5), False),
    (date(2025, 5, 6), True),
    # 2025 端午: 5/31-6/2 off.
    (date(2025, 6, 2), False),
    (date(2025, 6, 3), True),
    # 2025 国庆 and 中秋: 10/1-10/8 off, 9/28 and 10/11 worked.
    (date(2025, 9, 28), True),
    (date(2025, 10, 6), False),
    (date(2025, 10, 8), False),
    (date(2025, 10, 9), True),
    (date(2025, 10, 11), True),
    # 2026 元旦: 1/1-1/3 off, 1/4 worked.
    (date(2026, 1, 2), False),
    (date(2026, 1, 4), True),
    # 2026 春节: 2/15-2/23 off, 2/14 and 2/28 worked.
    (date(2026, 2, 14), True),
    (date(2026, 2, 16), False),
    (date(2026, 2, 20), False),
    (date(2026, 2, 23), False),
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),
    # 2026 清明: 4/4-4/6 off.
    (date(2026, 4, 6), False),
    (date(2026, 4, 7), True),
    # 2026 劳动节: 5/1-5/5 off, 5/9 worked.
    (date(2026, 5, 4), False),
    (date(2026, 5, 5), False),
    (date(2026, 5, 6), True),
    (date(2026, 5, 9), True),
    # 2026 端午: 6/19-6/21 off.
    (date(2026, 6, 19), False),
    (date(2026, 6, 22), True),
    # 2026 中秋: 9/25-9/27 off.
    (date(2026, 9, 25), False),
    # 2026 国庆: 10/1-10/7 off, 9/20 and 10/10 worked.
    (date(2026, 9, 20), True),
    (date(2026, 10, 5), False),
    (date(2026, 10, 7), False),
    (date(2026, 10, 8), True),
    (date(2026, 10, 10), True),
]


@pytest.mark.parametrize(("day", "working"), KNOWN_DAYS, ids=str)
def test_known_days_of_2024_to_2026(calendar, day, working):
    assert calendar.is_working_day(day) is working


KNOWN_DEADLINES = [
    (date(2024, 2, 8), 1, date(2024, 2, 9)),
    (date(2024, 2, 9), 1, date(2024, 2, 18)),
    (date(2024, 9, 27), 1, date(2024, 9, 29)),
    (date(2025, 1, 24), 2, date(2025, 1, 27)),
    (date(2025, 4, 30), 1, date(2025, 5, 6)),
    (date(2025, 5, 30), 1, date(2025, 6, 3)),
    (date(2025, 6, 5), 1, date(2025, 6, 11)),
    (date(2026, 9, 30), 3, date(2026, 10, 10)),
]


@pytest.mark.parametrize(("start", "n", "deadline"), KNOWN_DEADLINES, ids=str)
def test_known_deadlines_of_2024_to_2026(calendar, start, n, deadline):
    assert calendar.add_working_days(start, n) == deadline


# Years: official, estimated, missing


def test_the_shipped_calendar_covers_exactly_2024_to_2027(calendar):
    covered = calendar.covered_years

    assert covered == {2024, 2025, 2026, 2027}


def test_years_with_a_state_council_notice_in_the_library_are_official(calendar):
    statuses = [calendar.year_status(year) for year in (2024, 2025, 2026)]

    assert statuses == ["official"] * 3


def test_2027_is_usable_as_an_estimate_of_the_library(calendar):
    status = calendar.year_status(2027)
    new_years_day = calendar.is_working_day(date(2027, 1, 1))
    deadline = calendar.add_working_days(date(2026, 12, 31), 1)

    assert status == "estimated"
    assert new_years_day is False
    assert deadline == date(2027, 1, 4)


def test_a_year_without_a_regional_entry_is_refused_naming_it(calendar):
    with pytest.raises(CalendarYearNotCovered) as raised:
        calendar.is_working_day(date(2028, 1, 3))

    assert raised.value.year == 2028
    assert "2028" in str(raised.value)
    assert f"calendar file {DEFAULT_REGIONAL_FILE}" in str(raised.value)
    assert "regional entry" in str(raised.value)


def test_year_status_refuses_a_missing_year(calendar):
    with pytest.raises(CalendarYearNotCovered, match="2023"):
        calendar.year_status(2023)


def test_a_year_missing_from_a_given_file_is_refused(tmp_path):
    path = write_calendar_file(tmp_path, {"2025": regional()})
    calendar = WorkingCalendar.from_file(path)

    with pytest.raises(CalendarYearNotCovered) as raised:
        calendar.is_working_day(date(2024, 7, 1))

    assert "2024" in str(raised.value)
    assert f"calendar file {path}" in str(raised.value)


def test_an_empty_regional_list_is_a_year_without_regional_days(tmp_path):
    path = write_calendar_file(tmp_path, {"2025": regional()})
    calendar = WorkingCalendar.from_file(path)

    rozi_monday_works = calendar.is_working_day(date(2025, 3, 31))

    assert rozi_monday_works is True
    assert calendar.year_status(2025) == "official"


def test_a_make_up_day_a_notice_puts_in_the_year_before_is_worked():
    # The 2002 notice made 29 and 30 December 2001 working days.
    calendar = WorkingCalendar.from_years({2001: YearData(regional=())}, "test")

    worked = [calendar.is_working_day(date(2001, 12, day)) for day in (29, 30)]

    assert worked == [True, True]


def test_a_year_replaced_from_the_file_keeps_no_make_up_day_of_the_library():
    national_2001 = NationalArrangement(
        days_off=frozenset({date(2001, 10, 1)}), make_up_days=frozenset()
    )
    years = {
        2001: YearData(regional=(), national=national_2001),
        2002: YearData(regional=()),
    }
    calendar = WorkingCalendar.from_years(years, "test")

    worked = calendar.is_working_day(date(2001, 12, 29))

    assert worked is False


def test_a_deadline_running_into_a_missing_year_is_refused(calendar):
    last_week_of_2027 = date(2027, 12, 28)

    with pytest.raises(CalendarYearNotCovered, match="2028"):
        calendar.add_working_days(last_week_of_2027, 5)


def test_each_refusal_counts_in_the_missing_year_metric(calendar):
    before = missing_year_count(2031)

    for _ in range(2):
        with pytest.raises(CalendarYearNotCovered):
            calendar.is_working_day(date(2031, 3, 3))

    assert missing_year_count(2031) == before + 2


# The State Council's arrangement from the file

NATIONAL_2027 = {
    "source": "国务院办公厅关于2027年部分节假日安排的通知 (test data)",
    "days_off": [{"name": "春节", "from": "2027-02-05", "to": "2027-02-11"}],
    "make_up_days": [{"name": "春节", "date": "2027-02-20"}],
}


def test_a_national_arrangement_in_the_file_makes_its_year_official(tmp_path):
    path = write_calendar_file(
        tmp_path, {"2027": {"regional": [], "national": NATIONAL_2027}}
    )
    calendar = WorkingCalendar.from_file(path)

    status = calendar.year_status(2027)
    make_up_saturday = calendar.is_working_day(date(2027, 2, 20))
    festival = days_from(date(2027, 2, 5), date(2027, 2, 11))
    worked = [calendar.is_working_day(day) for day in festival]

    assert status == "official"
    assert make_up_saturday is True
    assert worked == [False] * 7


def test_a_national_arrangement_in_the_file_replaces_the_library_estimate(tmp_path):
    library_estimated_day_off = date(2027, 10, 4)
    path = write_calendar_file(
        tmp_path, {"2027": {"regional": [], "national": NATIONAL_2027}}
    )

    works = WorkingCalendar.from_file(path).is_working_day(library_estimated_day_off)

    assert works is True


def test_a_national_arrangement_in_the_file_overrides_an_official_year(tmp_path):
    national = {
        "source": "a later correction",
        "days_off": [{"name": "国庆节", "from": "2025-10-01", "to": "2025-10-07"}],
        "make_up_days": [],
    }
    path = write_calendar_file(
        tmp_path, {"2025": {"regional": [], "national": national}}
    )

    works = WorkingCalendar.from_file(path).is_working_day(date(2025, 10, 8))

    assert works is True


def test_regional_days_still_apply_over_a_national_arrangement(tmp_path):
    year = {
        "regional": [{"date": "2027-03-10", "name": "肉孜节"}],
        "national": NATIONAL_2027,
    }
    path = write_calendar_file(tmp_path, {"2027": year})

    works = WorkingCalendar.from_file(path).is_working_day(date(2027, 3, 10))

    assert works is False


# Loading: strict, and errors name the file, the year and the entry


def test_a_file_that_is_not_json_is_refused_with_its_path(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"years": {"2025": [', encoding="utf-8")

    with pytest.raises(RegionalHolidayFileError) as raised:
        WorkingCalendar.from_file(path)

    assert str(path) in str(raised.value)
    assert "not valid JSON" in str(raised.value)


def test_a_missing_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "absent.json"

    with pytest.raises(RegionalHolidayFileError, match="cannot read"):
        WorkingCalendar.from_file(path)


def test_a_document_without_years_is_refused(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text('{"2025": []}', encoding="utf-8")

    with pytest.raises(RegionalHolidayFileError) as raised:
        WorkingCalendar.from_file(path)

    assert str(path) in str(raised.value)
    assert '"years"' in str(raised.value)


def test_a_year_written_twice_is_refused(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text(
        '{"years": {"2025": {"regional": []}, "2025": {"regional": []}}}',
        encoding="utf-8",
    )

    with pytest.raises(RegionalHolidayFileError) as raised:
        WorkingCalendar.from_file(path)

    assert str(path) in str(raised.value)
    assert "'2025' appears twice" in str(raised.value)


def _national(**changes: Any) -> dict[str, Any]:
    return {**NATIONAL_2027, **changes}


MALFORMED_YEARS = [
    pytest.param(
        {"25": regional()},
        "year keys must be like 2025, got '25'",
        id="short year key",
    ),
    pytest.param(
        {"2025": [{"date": "2025-03-31", "name": "肉孜节"}]},
        'year 2025: expected an object like {"regional": [...]}; move the list',
        id="old list form",
    ),
    pytest.param(
        {"2025": {"national": NATIONAL_2027}},
        'year 2025: missing "regional"',
        id="no regional entry",
    ),
    pytest.param(
        {"2025": {"regional": [], "comment": "x"}},
        "year 2025: unknown keys ['comment']",
        id="unknown year key",
    ),
    pytest.param(
        {"2025": regional({"date": "2025-03-31", "name": "x"}, {"date": "31/03"})},
        'year 2025, regional entry 2: missing "name"',
        id="regional entry without name",
    ),
    pytest.param(
        {
            "2025": regional(
                {"date": "2025-03-31", "name": "x"}, {"date": "31/03", "name": "x"}
            )
        },
        'year 2025, regional entry 2: "date" must be an ISO date like 2025-03-31, '
        "got '31/03'",
        id="malformed regional date",
    ),
    pytest.param(
        {"2025": regional({"date": "20250331", "name": "肉孜节"})},
        'year 2025, regional entry 1: "date" must be an ISO date like 2025-03-31, '
        "got '20250331'",
        id="compact regional date",
    ),
    pytest.param(
        {"2025": {"regional": [], "note": None}},
        'year 2025: "note" must be a non-empty string',
        id="null note",
    ),
    pytest.param(
        {"2025": regional({"date": "2026-03-20", "name": "肉孜节"})},
        "year 2025, regional entry 1: 2026-03-20 is not in 2025",
        id="regional date in another year",
    ),
    pytest.param(
        {"2025": regional({"date": "2025-03-31", "name": "肉孜节", "kind": "off"})},
        'year 2025, regional entry 1: "kind" must be "closed" or "working", '
        "got 'off'",
        id="unknown kind",
    ),
    pytest.param(
        {"2025": regional({"date": "2025-03-31", "name": "肉孜节", "kind": "working"})},
        "year 2025, regional entry 1: 2025-03-31 is a Monday",
        id="regional working weekday",
    ),
    pytest.param(
        {
            "2025": regional(
                {"date": "2025-03-31", "name": "肉孜节"},
                {"date": "2025-03-31", "name": "肉孜节"},
            )
        },
        "year 2025, regional entries: 2025-03-31 is listed twice",
        id="regional repeat",
    ),
    pytest.param(
        {"2027": {"regional": [], "national": _national(days_off=[])}},
        'year 2027, national: "days_off" must not be empty',
        id="no national days off",
    ),
    pytest.param(
        {"2027": {"regional": [], "national": _national(source=" ")}},
        'year 2027, national: "source" must be a non-empty string',
        id="national without source",
    ),
    pytest.param(
        {
            "2027": {
                "regional": [],
                "national": _national(
                    days_off=[
                        {"name": "元旦", "from": "2027-01-03", "to": "2027-01-01"}
                    ]
                ),
            }
        },
        'year 2027, national, days_off entry 1: "to" 2027-01-01 is before "from"',
        id="national range backwards",
    ),
    pytest.param(
        {
            "2027": {
                "regional": [],
                "national": _national(
                    make_up_days=[{"name": "春节", "date": "2027-02-17"}]
                ),
            }
        },
        "year 2027, national, make_up_days entry 1: 2027-02-17 is a Wednesday",
        id="national make-up weekday",
    ),
    pytest.param(
        {
            "2027": {
                "regional": [],
                "national": _national(
                    make_up_days=[{"name": "春节", "date": "2027-02-06"}]
                ),
            }
        },
        "year 2027, national: 2027-02-06 is both a day off and a make-up working day",
        id="national make-up inside the break",
    ),
    pytest.param(
        {
            "2027": {
                "regional": [],
                "national": _national(
                    days_off=[
                        {"name": "春节", "from": "2027-02-05", "to": "2027-02-11"},
                        {"name": "春节", "from": "2027-02-11", "to": "2027-02-12"},
                    ]
                ),
            }
        },
        "year 2027, national, days_off: 2027-02-11 is listed twice",
        id="national ranges overlap",
    ),
    pytest.param(
        {
            "2027": {
                "regional": [],
                "national": _national(
                    make_up_days=[{"name": "春节", "date": "2028-01-02"}]
                ),
            }
        },
        "year 2027, national, make_up_days entry 1: 2028-01-02 is not in 2027",
        id="national make-up in another year",
    ),
]


@pytest.mark.parametrize(("years", "message"), MALFORMED_YEARS)
def test_a_malformed_file_is_refused_naming_file_year_and_entry(
    tmp_path, years, message
):
    path = write_calendar_file(tmp_path, years)

    with pytest.raises(RegionalHolidayFileError) as raised:
        WorkingCalendar.from_file(path)

    assert str(raised.value).startswith(f"calendar file {path}: ")
    assert message in str(raised.value)


# Properties


@PROPERTY
@given(start=start_days, n=counts)
def test_the_nth_working_day_after_a_date_is_a_later_working_day(start, n):
    deadline = _shipped_calendar.add_working_days(start, n)

    assert deadline > start
    assert _shipped_calendar.is_working_day(deadline)


@PROPERTY
@given(start=start_days, n=counts)
def test_counting_the_working_days_up_to_the_deadline_gives_n(start, n):
    deadline = _shipped_calendar.add_working_days(start, n)

    up_to_deadline = _shipped_calendar.working_days_between(start, deadline)
    up_to_day_before = _shipped_calendar.working_days_between(
        start, deadline - timedelta(days=1)
    )

    assert up_to_deadline == n
    assert up_to_day_before == n - 1


@PROPERTY
@given(start=start_days, n=st.integers(1, MAX_N - 1))
def test_one_more_working_day_gives_a_later_deadline(start, n):
    sooner = _shipped_calendar.add_working_days(start, n)
    later = _shipped_calendar.add_working_days(start, n + 1)

    assert sooner < later


@PROPERTY
@given(first=start_days, second=start_days, n=counts)
def test_a_later_start_never_gives_an_earlier_deadline(first, second, n):
    earlier, later = sorted([first, second])

    earlier_deadline = _shipped_calendar.add_working_days(earlier, n)
    later_deadline = _shipped_calendar.add_working_days(later, n)

    assert earlier_deadline <= later_deadline


@PROPERTY
@given(day=covered_days)
def test_is_working_day_follows_the_weekday_and_holiday_rules(day):
    assert _shipped_calendar.is_working_day(day) is expected_working(day)


weekend_days = st.builds(
    lambda week, sunday: date(2024, 1, 6) + timedelta(weeks=week, days=sunday),
    week=st.integers(0, 207),
    sunday=st.integers(0, 1),
)


@PROPERTY
@given(day=weekend_days)
def test_a_weekend_day_that_is_not_a_make_up_day_is_never_worked(day):
    if not is_make_up_day(day):
        assert _shipped_calendar.is_working_day(day) is False


@PROPERTY
@given(a=covered_days, b=covered_days, c=covered_days)
def test_working_days_between_is_antisymmetric_and_adds_up(a, b, c):
    first, middle, last = sorted([a, b, c])
    between = _shipped_calendar.working_days_between

    assert between(last, first) == -between(first, last)
    assert between(first, last) == between(first, middle) + between(middle, last)


@PROPERTY
@given(
    moment=st.datetimes(datetime(2024, 1, 1), datetime(2027, 9, 29)),
    offset_hours=st.integers(-12, 14),
    n=counts,
)
def test_deadline_for_closes_the_nth_working_day_after_the_beijing_date(
    moment, offset_hours, n
):
    event_at = moment.replace(tzinfo=timezone(timedelta(hours=offset_hours)))
    beijing_day = event_at.astimezone(BEIJING).date()

    deadline = _shipped_calendar.deadline_for(event_at, n)

    assert deadline.date() == _shipped_calendar.add_working_days(beijing_day, n)
    assert deadline.astimezone(BEIJING).time() == datetime.max.time()


@PROPERTY
@given(day=st.dates(date(1990, 1, 1), date(2100, 12, 31)))
def test_a_day_outside_the_covered_years_is_refused_naming_its_year(day):
    if FIRST_COVERED.year <= day.year <= LAST_COVERED.year:
        return

    with pytest.raises(CalendarYearNotCovered) as raised:
        _shipped_calendar.is_working_day(day)

    assert raised.value.year == day.year
    assert str(day.year) in str(raised.value)


days_of_2027 = st.dates(date(2027, 1, 1), date(2027, 12, 31))


@PROPERTY
@given(
    days_off=st.frozensets(days_of_2027.filter(lambda d: d.weekday() < 5), max_size=20),
    make_up=st.frozensets(days_of_2027.filter(lambda d: d.weekday() >= 5), max_size=6),
)
def test_a_national_arrangement_decides_every_day_of_its_year(days_off, make_up):
    arrangement = NationalArrangement(days_off=days_off, make_up_days=make_up)
    calendar = WorkingCalendar.from_years(
        {2027: YearData(regional=(), national=arrangement)}, "test"
    )

    for day in days_from(date(2027, 1, 1), date(2027, 12, 31)):
        expected = day in make_up or (day.weekday() < 5 and day not in days_off)
        assert calendar.is_working_day(day) is expected
    assert calendar.year_status(2027) == "official"


@PROPERTY
@given(closed=st.frozensets(days_of_2027, max_size=10))
def test_a_regional_closure_is_never_a_working_day(closed):
    days = tuple(RegionalDay(day=day, name="肉孜节") for day in closed)
    calendar = WorkingCalendar.from_years({2027: YearData(regional=days)}, "test")

    assert not any(calendar.is_working_day(day) for day in closed)
    assert calendar.year_status(2027) == "estimated"
