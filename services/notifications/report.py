"""The deadline report (承诺办结时间): for the deadlines whose clock started in a
period, per kind, how many were met on time, met late, are still open, and how long
they took in working days of the Xinjiang calendar.

What the numbers mean:

- The period selects deadlines whose clock started (`started_at`) on a Beijing date
  from `first` to `last`, both included.
- A cancelled deadline (an application withdrawn, say) counts only as cancelled, even
  if it had been met: it is left out of every other column. "started" counts the
  deadlines that were not cancelled, so started = met on time + met late + open.
- Met on time: the Beijing date of `met_at` is on or before `due_on`; met late
  otherwise. Open: neither met nor cancelled. Overdue: open and `today` (a Beijing
  date) is after `due_on`.
- Time taken: working days after the Beijing date the clock started, up to and
  including the Beijing date it was met (`working_days_between`). Its median and
  worst are over the met deadlines; "worst overdue by" is the most working days
  after `due_on`, up to and including `today`, among the open overdue ones (zero
  when only days off have passed since the due day).
- Every kind is listed, in the order of `DeadlineKind`, with zeros when it has none;
  rows of kinds this code does not know are not loaded. A figure with nothing to
  measure shows as "—" in the table and as an empty field in the CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime, time, timedelta
from statistics import median
from typing import TextIO

import psycopg
from psycopg import sql
from rich.table import Table
from rich.text import Text

from services.common.workdays import BEIJING, WorkingCalendar
from services.notifications.deadlines import COMMITMENTS, DeadlineKind

READ_SCHEMA = "notifications_read"
NOTHING = "—"

_ONE_DAY = timedelta(days=1)
_NUMBER_HEADINGS = (
    "started",
    "on time",
    "late",
    "open",
    "overdue",
    "cancelled",
    "median",
    "worst",
    "worst overdue",
)

_SELECT_STARTED = """
SELECT kind, started_at, due_on, met_at, cancelled_at
FROM {schema}.deadlines
WHERE started_at >= %s AND started_at < %s AND kind = ANY(%s)
ORDER BY started_at
"""


class DeadlinesTableMissing(LookupError):
    """The database has no deadlines table in the schema the report reads."""

    def __init__(self, schema: str) -> None:
        super().__init__(
            f"there is no table {schema}.deadlines in this database: "
            "the notifications service has not created its tables here"
        )


@dataclass(frozen=True)
class DeadlineRow:
    """What the report needs of one row of the deadlines table."""

    kind: DeadlineKind
    started_at: datetime
    due_on: date
    met_at: datetime | None = None
    cancelled_at: datetime | None = None

    @property
    def started_on(self) -> date:
        return beijing_date(self.started_at)

    @property
    def met_on(self) -> date | None:
        return None if self.met_at is None else beijing_date(self.met_at)

    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    def was_met_on_time(self) -> bool:
        return self.met_on is not None and self.met_on <= self.due_on

    def is_overdue_on(self, today: date) -> bool:
        return self.met_at is None and not self.is_cancelled() and today > self.due_on


@dataclass(frozen=True)
class KindSummary:
    """One line of the report: the deadlines of one kind started in the period."""

    kind: DeadlineKind
    label: str
    working_days: int
    started: int
    met_on_time: int
    met_late: int
    open: int
    overdue: int
    cancelled: int
    median_days: float | None
    worst_days: int | None
    worst_overdue_days: int | None


def beijing_date(moment: datetime) -> date:
    return moment.astimezone(BEIJING).date()


def today_in_beijing() -> date:
    return datetime.now(BEIJING).date()


def previous_month(today: date) -> tuple[date, date]:
    """The first and last day of the calendar month before `today`'s."""
    last = today.replace(day=1) - _ONE_DAY
    return last.replace(day=1), last


def summarize(
    rows: Iterable[DeadlineRow], calendar: WorkingCalendar, today: date
) -> list[KindSummary]:
    """One summary per kind, in the order of `DeadlineKind`, kinds without rows too."""
    by_kind: dict[DeadlineKind, list[DeadlineRow]] = {kind: [] for kind in DeadlineKind}
    for row in rows:
        by_kind[row.kind].append(row)
    return [_summarize_kind(kind, by_kind[kind], calendar, today) for kind in by_kind]


def _summarize_kind(
    kind: DeadlineKind,
    rows: Sequence[DeadlineRow],
    calendar: WorkingCalendar,
    today: date,
) -> KindSummary:
    live = [row for row in rows if not row.is_cancelled()]
    met = [row for row in live if row.met_at is not None]
    overdue = [row for row in live if row.is_overdue_on(today)]
    taken = [
        calendar.working_days_between(row.started_on, row.met_on)
        for row in live
        if row.met_on is not None
    ]
    overdue_by = [calendar.working_days_between(row.due_on, today) for row in overdue]
    on_time = sum(row.was_met_on_time() for row in met)
    commitment = COMMITMENTS[kind]
    return KindSummary(
        kind=kind,
        label=commitment.label,
        working_days=commitment.working_days,
        started=len(live),
        met_on_time=on_time,
        met_late=len(met) - on_time,
        open=len(live) - len(met),
        overdue=len(overdue),
        cancelled=len(rows) - len(live),
        median_days=float(median(taken)) if taken else None,
        worst_days=max(taken, default=None),
        worst_overdue_days=max(overdue_by, default=None),
    )


def load_deadlines(
    conn: psycopg.Connection, schema: str, first: date, last: date
) -> list[DeadlineRow]:
    """The deadlines whose clock started on a Beijing date from `first` to `last`."""
    # Bounds as Beijing midnights, so the started_at index is used as it is.
    start = datetime.combine(first, time.min, tzinfo=BEIJING)
    end = datetime.combine(last + _ONE_DAY, time.min, tzinfo=BEIJING)
    query = sql.SQL(_SELECT_STARTED).format(schema=sql.Identifier(schema))
    try:
        found = conn.execute(query, (start, end, [kind.value for kind in DeadlineKind]))
    except psycopg.errors.UndefinedTable:
        raise DeadlinesTableMissing(schema) from None
    return [
        DeadlineRow(DeadlineKind(kind), started_at, due_on, met_at, cancelled_at)
        for kind, started_at, due_on, met_at, cancelled_at in found
    ]


def days_text(days: float | None) -> str:
    """Working days as staff read them: "3", "2.5"; empty when there are none."""
    if days is None:
        return ""
    return f"{days:.1f}".removesuffix(".0")


def commitment_text(working_days: int) -> str:
    return f"{working_days} 个工作日"


def write_csv(summaries: Iterable[KindSummary], file: TextIO) -> None:
    """One header line of the KindSummary field names, then one line per kind."""
    writer = csv.writer(file)
    writer.writerow(field.name for field in fields(KindSummary))
    for summary in summaries:
        writer.writerow(_csv_field(value) for value in astuple(summary))


def _csv_field(value: object) -> object:
    # The day figures are the floats and Nones; counts and labels go as they are.
    if value is None or isinstance(value, float):
        return days_text(value)
    return value


def render_table(summaries: Iterable[KindSummary], first: date, last: date) -> Table:
    table = Table(
        title=f"承诺办结时间: deadlines started {first} to {last} (Beijing dates)",
        caption="median, worst: working days taken by those met; "
        "worst overdue: working days past the due day, of those open",
    )
    # Fits 120 columns; narrower, rich shortens the headings of the figures.
    table.add_column("deadline", no_wrap=True)
    table.add_column("commitment", no_wrap=True)
    for heading in _NUMBER_HEADINGS:
        table.add_column(heading, justify="right")
    for summary in summaries:
        table.add_row(
            summary.label, commitment_text(summary.working_days), *_cells(summary)
        )
    return table


def _cells(summary: KindSummary) -> list[str | Text]:
    overdue = Text(str(summary.overdue), style="bold red" if summary.overdue else "")
    return [
        str(summary.started),
        str(summary.met_on_time),
        str(summary.met_late),
        str(summary.open),
        overdue,
        str(summary.cancelled),
        *(
            days_text(days) or NOTHING
            for days in (
                summary.median_days,
                summary.worst_days,
                summary.worst_overdue_days,
            )
        ),
    ]
