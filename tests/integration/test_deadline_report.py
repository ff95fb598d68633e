"""The deadline report read from a real PostgreSQL deadlines table, through the
operators' command."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from psycopg import sql
from rich.console import Console

from services.common.workdays import BEIJING
from services.notifications import report
from services.notifications.deadlines import DEADLINES_TABLE, DeadlineKind
from services.ops import cli as ops_cli

TODAY = date(2026, 12, 3)
REVIEW = DeadlineKind.REVIEW
SIGNATURE = DeadlineKind.CENTRE_SIGNATURE
SHIPMENT = DeadlineKind.MAIL_SHIPMENT


def beijing(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=BEIJING)


# November 2026 has no days off but its weekends; today is Thursday 3 December.
NOVEMBER = [
    # met after 2 and 3 working days, the second at 23:00 on its due day: on time
    (REVIEW, beijing(11, 2), date(2026, 11, 5), beijing(11, 4), None),
    (REVIEW, beijing(11, 2), date(2026, 11, 5), beijing(11, 5, hour=23), None),
    # Friday 6th to Friday 13th: 5 working days, late
    (REVIEW, beijing(11, 6), date(2026, 11, 11), beijing(11, 13), None),
    # open, due Monday 30th: overdue by 1, 2 and 3 December
    (REVIEW, beijing(11, 25), date(2026, 11, 30), None, None),
    # 00:30 on 1 November in Beijing: in the period; overdue by 21 working days
    (REVIEW, datetime(2026, 10, 31, 16, 30, tzinfo=UTC), date(2026, 11, 4), None, None),
    (REVIEW, beijing(11, 10), date(2026, 11, 13), None, beijing(11, 11)),
    # 2 and 3 working days, both met on time: median 2.5
    (SIGNATURE, beijing(11, 16), date(2026, 11, 19), beijing(11, 18), None),
    (SIGNATURE, beijing(11, 16), date(2026, 11, 19), beijing(11, 19, hour=12), None),
    # open and due today: not overdue yet
    (SHIPMENT, beijing(11, 30), date(2026, 12, 3), None, None),
]
OUTSIDE = [
    # 23:30 on 31 October and 00:30 on 1 December in Beijing
    (REVIEW, datetime(2026, 10, 31, 15, 30, tzinfo=UTC), date(2026, 11, 4), None, None),
    (REVIEW, datetime(2026, 11, 30, 16, 30, tzinfo=UTC), date(2026, 12, 4), None, None),
]


def insert(database, rows) -> None:
    with database.connect() as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(report.READ_SCHEMA)
            )
        )
        conn.execute(
            sql.SQL(DEADLINES_TABLE).format(schema=sql.Identifier(report.READ_SCHEMA))
        )
        for kind, started_at, due_on, met_at, cancelled_at in rows:
            conn.execute(
                "INSERT INTO notifications_read.deadlines (deadline_id, kind,"
                " subject_id, reference, started_at, due_on, met_at, cancelled_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    uuid.uuid4(),
                    kind.value,
                    uuid.uuid4(),
                    f"ref-{uuid.uuid4().hex[:8]}",
                    started_at,
                    due_on,
                    met_at,
                    cancelled_at,
                ),
            )


@pytest.fixture
def run(database, monkeypatch):
    monkeypatch.setattr(report, "today_in_beijing", lambda: TODAY)
    # Wide enough that no table cell is wrapped in the captured output.
    monkeypatch.setattr(ops_cli, "console", Console(width=250))

    def run(*args: str, succeed: bool = True) -> str:
        result = CliRunner().invoke(
            ops_cli.cli,
            ["deadlines-report", *args],
            env={"XJCERT_DATABASE_URL": database.url},
        )
        failure = result.output + repr(result.exception)
        assert (result.exit_code == 0) is succeed, failure
        return result.output

    return run


def table_rows(output: str) -> dict[str, list[str]]:
    cells = (
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if "个工作日" in line
    )
    return {row[0]: row[1:] for row in cells}


def test_loads_the_deadlines_started_on_the_periods_beijing_dates(database):
    insert(database, NOVEMBER + OUTSIDE)

    with database.connect() as conn:
        rows = report.load_deadlines(
            conn, report.READ_SCHEMA, date(2026, 11, 1), date(2026, 11, 30)
        )

    assert len(rows) == len(NOVEMBER)
    assert (rows[0].started_on, rows[-1].started_on) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
    )
    assert sum(row.is_cancelled() for row in rows) == 1


def test_prints_the_table_for_the_period(database, run):
    insert(database, NOVEMBER + OUTSIDE)

    output = run("--from", "2026-11-01", "--to", "2026-11-30")

    assert "deadlines started 2026-11-01 to 2026-11-30" in output
    figures = {
        "补办资料审核": ["5", "2", "1", "2", "2", "1", "3", "5", "21"],
        "电子证书中心签章": ["2", "2", "0", "0", "0", "0", "2.5", "3", "—"],
        "证书邮寄寄出": ["1", "0", "0", "1", "0", "0", "—", "—", "—"],
        "补办证书数据同步": ["0", "0", "0", "0", "0", "0", "—", "—", "—"],
    }
    rows = table_rows(output)
    assert list(rows) == list(figures)
    for label, expected in figures.items():
        assert rows[label][1:] == expected, label
    assert rows["补办证书数据同步"][0] == "5 个工作日"


def test_prints_csv_for_the_period(database, run):
    insert(database, NOVEMBER + OUTSIDE)

    output = run("--from", "2026-11-01", "--to", "2026-11-30", "--csv")

    lines = {line["kind"]: line for line in csv.DictReader(io.StringIO(output))}
    assert list(lines) == [kind.value for kind in DeadlineKind]
    review = lines["review"]
    assert (review["started"], review["met_on_time"], review["met_late"]) == (
        "5",
        "2",
        "1",
    )
    assert (review["open"], review["overdue"], review["cancelled"]) == ("2", "2", "1")
    assert (review["median_days"], review["worst_days"]) == ("3", "5")
    assert review["worst_overdue_days"] == "21"
    assert lines["centre_signature"]["median_days"] == "2.5"
    assert lines["mail_shipment"]["worst_overdue_days"] == ""
    assert lines["reissue_sync"]["started"] == "0"


def test_defaults_to_the_previous_calendar_month(database, run):
    insert(database, NOVEMBER + OUTSIDE)

    output = run("--csv")

    lines = {line["kind"]: line for line in csv.DictReader(io.StringIO(output))}
    assert lines["review"]["started"] == "5"
    assert lines["mail_shipment"]["open"] == "1"


def test_refuses_a_period_that_ends_before_it_starts(run):
    output = run("--from", "2026-11-30", "--to", "2026-11-01", succeed=False)

    assert "Invalid value for '--to': 2026-11-01 is before --from 2026-11-30" in output


def test_says_when_the_deadlines_table_is_missing(run):
    output = run("--from", "2026-11-01", "--to", "2026-11-30", succeed=False)

    assert "there is no table notifications_read.deadlines" in output
