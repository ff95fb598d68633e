"""Xinjiang working days (工作日) and the committed deadlines counted in them.

National days off and make-up days (调休) come from `holidays`, or from the calendar
file once the State Council publishes a year; Xinjiang's regional days from the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from holidays import country_holidays
from holidays.countries.china import ChinaStaticHolidays
from prometheus_client import Counter

BEIJING = ZoneInfo("Asia/Shanghai")
DEFAULT_REGIONAL_FILE = (
    Path(__file__).parent / "data" / "xinjiang_regional_holidays.json"
)

YearStatus = Literal["official", "estimated"]

CALENDAR_YEAR_MISSING = Counter(
    "calendar_year_missing_total",
    "Working-day questions refused because the calendar has no data for the year.",
    ["year"],
)

_ONE_DAY = timedelta(days=1)
_KINDS = {"closed": False, "working": True}


class CalendarYearNotCovered(LookupError):
    """The calendar has no data for a year; the message names the missing source."""

    def __init__(self, year: int, missing: Iterable[str]) -> None:
        self.year = year
        self.missing = tuple(missing)
        super().__init__(
            f"no working-day calendar for {year}: " + "; ".join(self.missing)
        )


class RegionalHolidayFileError(ValueError):
    """The calendar file is unreadable or malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class RegionalDay:
    """A day the regional government announced: closed, or a weekend worked (调休)."""

    day: date
    name: str
    is_working: bool = False


@dataclass(frozen=True, slots=True)
class NationalArrangement:
    """One year's State Council arrangement, as dates falling in that year."""

    days_off: frozenset[date]
    make_up_days: frozenset[date]


@dataclass(frozen=True, slots=True)
class YearData:
    """What the calendar file says about one year."""

    regional: tuple[RegionalDay, ...]
    national: NationalArrangement | None = None


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Working days for the years the file covers; build it with a loader."""

    source: str
    covered_years: frozenset[int]
    official_years: frozenset[int]
    _closed: frozenset[date]
    _worked_weekends: frozenset[date]

    @classmethod
    def from_default_file(cls) -> WorkingCalendar:
        return cls.from_file(DEFAULT_REGIONAL_FILE)

    @classmethod
    def for_settings(cls, settings: Any) -> WorkingCalendar:
        """The calendar a service's settings name, or the packaged one."""
        path = getattr(settings, "calendar_file", None)
        return cls.from_file(path) if path else cls.from_default_file()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> WorkingCalendar:
        return cls.from_years(_read_calendar_file(Path(path)), str(path))

    @classmethod
    def from_years(cls, years: Mapping[int, YearData], source: str) -> WorkingCalendar:
        """A calendar of exactly `years`; `source` names their origin in errors."""
        library_official = _library_official_years()
        closed: set[date] = set()
        worked: set[date] = set()
        for year, data in years.items():
            year_closed, year_worked = _days_of_year(year, data)
            closed |= year_closed
            worked |= year_worked
        official = {
            year
            for year, data in years.items()
            if data.national is not None or year in library_official
        }
        return cls(
            source=source,
            covered_years=frozenset(years),
            official_years=frozenset(official),
            _closed=frozenset(closed),
            _worked_weekends=frozenset(worked),
        )

    def year_status(self, year: int) -> YearStatus:
        """Whether the year's national days follow a State Council notice or a guess.

        "estimated" years are usable, but staff should see that their deadlines may
        move when the notice is published.
        """
        self._require_covered(year)
        return "official" if year in self.official_years else "estimated"

    def is_working_day(self, day: date) -> bool:
        self._require_covered(day.year)
        if day in self._closed:
            return False
        return day.weekday() < 5 or day in self._worked_weekends

    def add_working_days(self, start: date, n: int) -> date:
        """The N-th working day after `start`; `start` itself never counts."""
        if n < 1:
            raise ValueError(f"n must be at least 1 working day, got {n}")
        day, counted = start, 0
        while counted < n:
            day += _ONE_DAY
            if self.is_working_day(day):
                counted += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`.

        Zero when the dates are equal; negative (minus the count from `end` to
        `start`) when `end` is earlier, so "days left" turns into "overdue by".
        """
        if end < start:
            return -self.working_days_between(end, start)
        days = (start + _ONE_DAY * i for i in range(1, (end - start).days + 1))
        return sum(self.is_working_day(day) for day in days)

    def deadline_for(self, event_at: datetime, n: int) -> datetime:
        """Close of the N-th working day after the event's Beijing date.

        The close is 23:59:59.999999 Beijing time, so a step is late only when
        it happens after (`>`) the returned moment.
        """
        if event_at.tzinfo is None or event_at.utcoffset() is None:
            raise ValueError("event_at must be timezone-aware, got a naive datetime")
        event_day = event_at.astimezone(BEIJING).date()
        deadline_day = self.add_working_days(event_day, n)
        return datetime.combine(deadline_day, time.max, tzinfo=BEIJING)

    def _require_covered(self, year: int) -> None:
        # The national part never blocks a year (the library always has at least
        # an estimate); only the regional government's announcement can be absent.
        if year in self.covered_years:
            return
        CALENDAR_YEAR_MISSING.labels(year=str(year)).inc()
        raise CalendarYearNotCovered(
            year,
            [
                f"the calendar file {self.source} has no regional entry for {year}; "
                f"add the 肉孜节/古尔邦节 days the regional government announced "
                f"(an empty list if it announced none)"
            ],
        )


def _days_of_year(year: int, data: YearData) -> tuple[frozenset[date], frozenset[date]]:
    national = data.national or _library_arrangement(year)
    regional_closed = {d.day for d in data.regional if not d.is_working}
    regional_worked = {d.day for d in data.regional if d.is_working}
    # The regional announcement is the later, more specific decision: it wins
    # over the national schedule wherever the two disagree.
    closed = (national.days_off | regional_closed) - regional_worked
    worked = (national.make_up_days | regional_worked) - regional_closed
    return closed, worked


def _library_official_years() -> frozenset[int]:
    # For a year without a State Council notice the library still answers, with
    # holidays moved by generic observance rules and no make-up days: a guess.
    # Only the years that carry the notice's substitutions are real data.
    return frozenset(ChinaStaticHolidays.special_public_holidays)


def _library_arrangement(year: int) -> NationalArrangement:
    # The library lists make-up days of every notice under every year, including
    # those a notice puts in the year before (the 2002 notice worked 29-30 December
    # 2001); keep the ones falling in this year, as the calendar file files them.
    china = country_holidays("CN", years=year)
    return NationalArrangement(
        days_off=frozenset(day for day in china if day.year == year),
        make_up_days=frozenset(d for d in china.weekend_workdays if d.year == year),
    )


def _read_calendar_file(path: Path) -> dict[int, YearData]:
    document = _load_json(path)
    where = f"calendar file {path}"
    top = _object(where, document, required={"years"}, optional={"_source", "note"})
    _text(where, top, "_source", required=False)
    _text(where, top, "note", required=False)
    years = top["years"]
    if not isinstance(years, dict):
        raise RegionalHolidayFileError(f'{where}: "years" must be an object')
    parsed: dict[int, YearData] = {}
    for key, value in years.items():
        year = _parse_year_key(where, key)
        parsed[year] = _parse_year(f"{where}: year {year}", year, value)
    return parsed


def _load_json(path: Path) -> Any:
    where = f"calendar file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RegionalHolidayFileError(
            f"{where}: cannot read it ({error.strerror})"
        ) from error
    try:
        return json.loads(text, object_pairs_hook=_refuse_repeated_keys)
    except json.JSONDecodeError as error:
        raise RegionalHolidayFileError(f"{where}: not valid JSON ({error})") from error
    except _RepeatedKey as error:
        raise RegionalHolidayFileError(
            f"{where}: {error.key!r} appears twice in one object"
        ) from None


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys; a year pasted twice must not
    # silently lose one of its copies.
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _RepeatedKey(key)
        document[key] = value
    return document


def _parse_year_key(where: str, key: str) -> int:
    if not (len(key) == 4 and key.isdigit()):
        raise RegionalHolidayFileError(
            f"{where}: year keys must be like 2025, got {key!r}"
        )
    return int(key)


def _parse_year(where: str, year: int, value: Any) -> YearData:
    if isinstance(value, list):
        # The first version of the file had the regional list right under the
        # year; say how to move it rather than only that it is wrong.
        raise RegionalHolidayFileError(
            f'{where}: expected an object like {{"regional": [...]}}; '
            f'move the list of entries under "regional"'
        )
    fields = _object(where, value, required={"regional"}, optional={"national", "note"})
    _text(where, fields, "note", required=False)
    regional = _parse_regional(where, year, fields["regional"])
    if "national" not in fields:
        return YearData(regional=regional)
    national = _parse_national(f"{where}, national", year, fields["national"])
    return YearData(regional=regional, national=national)


def _parse_regional(where: str, year: int, value: Any) -> tuple[RegionalDay, ...]:
    entries = _list(f'{where}: "regional"', value, non_empty=False)
    days = tuple(
        _parse_regional_entry(f"{where}, regional entry {i}", year, entry)
        for i, entry in enumerate(entries, start=1)
    )
    _refuse_repeats(f"{where}, regional entries", [d.day for d in days])
    return days


def _parse_regional_entry(where: str, year: int, entry: Any) -> RegionalDay:
    fields = _object(where, entry, required={"date", "name"}, optional={"kind"})
    name = _text(where, fields, "name")
    kind = fields.get("kind", "closed")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise RegionalHolidayFileError(
            f'{where}: "kind" must be "closed" or "working", got {kind!r}'
        )
    day = _parse_date(where, "date", fields["date"], year)
    if _KINDS[kind]:
        _require_weekend(where, day)
    return RegionalDay(day=day, name=name, is_working=_KINDS[kind])


def _parse_national(where: str, year: int, value: Any) -> NationalArrangement:
    fields = _object(where, value, required={"source", "days_off", "make_up_days"})
    _text(where, fields, "source")
    days_off = _parse_days_off(where, year, fields["days_off"])
    make_up_days = _parse_make_up_days(where, year, fields["make_up_days"])
    if clash := sorted(days_off & make_up_days):
        raise RegionalHolidayFileError(
            f"{where}: {clash[0]} is both a day off and a make-up working day"
        )
    return NationalArrangement(days_off=days_off, make_up_days=make_up_days)


def _parse_days_off(where: str, year: int, value: Any) -> frozenset[date]:
    # Every notice gives days off, so an empty list is a copying mistake.
    entries = _list(f'{where}: "days_off"', value, non_empty=True)
    days: list[date] = []
    for i, entry in enumerate(entries, start=1):
        days += _parse_day_off_range(f"{where}, days_off entry {i}", year, entry)
    _refuse_repeats(f"{where}, days_off", days)
    return frozenset(days)


def _parse_day_off_range(where: str, year: int, entry: Any) -> list[date]:
    # Ranges, because the notice words them so ("1月28日至2月4日放假调休").
    fields = _object(where, entry, required={"name", "from", "to"})
    _text(where, fields, "name")
    first = _parse_date(where, "from", fields["from"], year)
    last = _parse_date(where, "to", fields["to"], year)
    if last < first:
        raise RegionalHolidayFileError(f'{where}: "to" {last} is before "from" {first}')
    return [first + _ONE_DAY * i for i in range((last - first).days + 1)]


def _parse_make_up_days(where: str, year: int, value: Any) -> frozenset[date]:
    entries = _list(f'{where}: "make_up_days"', value, non_empty=False)
    days = [
        _parse_make_up_day(f"{where}, make_up_days entry {i}", year, entry)
        for i, entry in enumerate(entries, start=1)
    ]
    _refuse_repeats(f"{where}, make_up_days", days)
    return frozenset(days)


def _parse_make_up_day(where: str, year: int, entry: Any) -> date:
    fields = _object(where, entry, required={"name", "date"})
    _text(where, fields, "name")
    day = _parse_date(where, "date", fields["date"], year)
    _require_weekend(where, day)
    return day


def _object(
    where: str, value: Any, *, required: set[str], optional: Iterable[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RegionalHolidayFileError(
            f"{where}: expected an object with {_keys(required)}"
        )
    if missing := required - value.keys():
        raise RegionalHolidayFileError(f"{where}: missing {_keys(missing)}")
    if unknown := value.keys() - required - set(optional):
        raise RegionalHolidayFileError(f"{where}: unknown keys {sorted(unknown)}")
    return value


def _list(where: str, value: Any, *, non_empty: bool) -> list[Any]:
    if not isinstance(value, list):
        raise RegionalHolidayFileError(f"{where} must be a list")
    if non_empty and not value:
        raise RegionalHolidayFileError(f"{where} must not be empty")
    return value


def _text(where: str, fields: dict[str, Any], key: str, required: bool = True) -> str:
    if key not in fields and not required:
        return ""
    value = fields.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RegionalHolidayFileError(f'{where}: "{key}" must be a non-empty string')
    return value


def _parse_date(where: str, key: str, raw: Any, year: int) -> date:
    day = _iso_date(raw)
    if day is None:
        raise RegionalHolidayFileError(
            f'{where}: "{key}" must be an ISO date like 2025-03-31, got {raw!r}'
        )
    # Days are filed under the year they fall in, so one year's entry is the whole
    # truth about that year and replacing it cannot leave a stray day behind.
    if day.year != year:
        raise RegionalHolidayFileError(f"{where}: {day} is not in {year}")
    return day


def _iso_date(raw: Any) -> date | None:
    try:
        day = date.fromisoformat(raw)
    except (TypeError, ValueError):
        return None
    # fromisoformat also takes 20250331 and 2025-W13-1; one spelling only, so the
    # file reads the same to every operator.
    return day if day.isoformat() == raw else None


def _require_weekend(where: str, day: date) -> None:
    if day.weekday() < 5:
        raise RegionalHolidayFileError(
            f"{where}: {day} is a {day:%A}; a make-up working day (调休) is a "
            f"Saturday or Sunday"
        )


def _refuse_repeats(where: str, days: list[date]) -> None:
    seen: set[date] = set()
    for day in days:
        if day in seen:
            raise RegionalHolidayFileError(f"{where}: {day} is listed twice")
        seen.add(day)


def _keys(keys: Iterable[str]) -> str:
    return ", ".join(f'"{key}"' for key in sorted(keys))
