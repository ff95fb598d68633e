"""Xinjiang working days (工作日) and the committed deadlines counted in them.

Statutory holidays and make-up days come from `holidays`; regional ones from JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays

BEIJING = ZoneInfo("Asia/Shanghai")
DEFAULT_REGIONAL_FILE = (
    Path(__file__).parent / "data" / "xinjiang_regional_holidays.json"
)

_ONE_DAY = timedelta(days=1)
_KINDS = {"closed": False, "working": True}
_ENTRY_KEYS = {"date", "name", "kind"}


class CalendarYearNotCovered(LookupError):
    """The calendar has no data for a year; the message names the missing source."""

    def __init__(self, year: int, missing: Iterable[str]) -> None:
        self.year = year
        self.missing = tuple(missing)
        super().__init__(
            f"no working-day calendar for {year}: " + "; ".join(self.missing)
        )


class RegionalHolidayFileError(ValueError):
    """The regional holiday file is unreadable or malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class RegionalDay:
    """A day the regional government announced: closed, or a weekend worked (调休)."""

    day: date
    name: str
    is_working: bool = False


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Working days for the years both sources cover; build it with a loader."""

    statutory_years: frozenset[int]
    regional_years: frozenset[int]
    regional_source: str
    _closed: frozenset[date]
    _worked_weekends: frozenset[date]

    @classmethod
    def from_default_file(cls) -> WorkingCalendar:
        return cls.from_file(DEFAULT_REGIONAL_FILE)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> WorkingCalendar:
        return cls.from_regional_days(_read_regional_file(Path(path)), str(path))

    @classmethod
    def from_regional_days(
        cls, regional: Mapping[int, Iterable[RegionalDay]], source: str
    ) -> WorkingCalendar:
        statutory_years = _statutory_years()
        covered = sorted(statutory_years & regional.keys())
        china = holidays.China(years=covered)
        days = [day for year in covered for day in regional[year]]
        regional_closed = {d.day for d in days if not d.is_working}
        regional_worked = {d.day for d in days if d.is_working}
        # The regional announcement is the later, more specific decision: it wins
        # over the national schedule wherever the two disagree.
        closed = (set(china) | regional_closed) - regional_worked
        worked = (set(china.weekend_workdays) | regional_worked) - regional_closed
        return cls(
            statutory_years=statutory_years,
            regional_years=frozenset(regional),
            regional_source=source,
            _closed=frozenset(closed),
            _worked_weekends=frozenset(worked),
        )

    @property
    def covered_years(self) -> frozenset[int]:
        return self.statutory_years & self.regional_years

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
        missing = []
        if year not in self.statutory_years:
            missing.append(
                f"the installed holidays library has no State Council make-up-day "
                f"schedule (调休) for {year} (it has "
                f"{min(self.statutory_years)}-{max(self.statutory_years)}); "
                f"upgrade it once the year's notice is published"
            )
        if year not in self.regional_years:
            missing.append(
                f"the Xinjiang regional holiday file {self.regional_source} has no "
                f"entry for {year}; add the announced 肉孜节/古尔邦节 dates"
            )
        if missing:
            raise CalendarYearNotCovered(year, missing)


def _statutory_years() -> frozenset[int]:
    # For a year without a State Council notice the library still answers, with
    # holidays moved by generic observance rules and no make-up days: a guess.
    # Only the years that carry the notice's substitutions are real data.
    return frozenset(holidays.China().special_public_holidays)


def _read_regional_file(path: Path) -> dict[int, list[RegionalDay]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RegionalHolidayFileError(
            f"regional holiday file {path}: cannot read it ({error.strerror})"
        ) from error
    except json.JSONDecodeError as error:
        raise RegionalHolidayFileError(
            f"regional holiday file {path}: not valid JSON ({error})"
        ) from error
    years = document.get("years") if isinstance(document, dict) else None
    if not isinstance(years, dict):
        raise RegionalHolidayFileError(
            f'regional holiday file {path}: expected an object with a "years" object'
        )
    parsed: dict[int, list[RegionalDay]] = {}
    for key, value in years.items():
        year = _parse_year(path, key)
        parsed[year] = _parse_entries(path, year, value)
    return parsed


def _parse_year(path: Path, key: str) -> int:
    if not (len(key) == 4 and key.isdigit()):
        raise RegionalHolidayFileError(
            f"regional holiday file {path}: year keys must be like 2025, got {key!r}"
        )
    return int(key)


def _parse_entries(path: Path, year: int, value: Any) -> list[RegionalDay]:
    if not isinstance(value, list):
        raise RegionalHolidayFileError(
            f"regional holiday file {path}: year {year} must be a list of entries"
        )
    return [
        _parse_entry(
            f"regional holiday file {path}: year {year}, entry {i}", year, entry
        )
        for i, entry in enumerate(value, start=1)
    ]


def _parse_entry(where: str, year: int, entry: Any) -> RegionalDay:
    if not isinstance(entry, dict) or not {"date", "name"} <= entry.keys():
        raise RegionalHolidayFileError(
            f'{where}: expected an object with "date" and "name"'
        )
    if unknown := entry.keys() - _ENTRY_KEYS:
        raise RegionalHolidayFileError(f"{where}: unknown keys {sorted(unknown)}")
    name, kind = entry["name"], entry.get("kind", "closed")
    if not isinstance(name, str) or not name.strip():
        raise RegionalHolidayFileError(f'{where}: "name" must be a non-empty string')
    if not isinstance(kind, str) or kind not in _KINDS:
        raise RegionalHolidayFileError(
            f'{where}: "kind" must be "closed" or "working", got {kind!r}'
        )
    day = _parse_date(where, entry["date"])
    if day.year != year:
        raise RegionalHolidayFileError(f"{where}: {day} is not in {year}")
    return RegionalDay(day=day, name=name, is_working=_KINDS[kind])


def _parse_date(where: str, raw: Any) -> date:
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise RegionalHolidayFileError(
            f'{where}: "date" must be an ISO date like 2025-03-31, got {raw!r}'
        ) from None
