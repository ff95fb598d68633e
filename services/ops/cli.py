"""The operators' commands, one group per task; each reads the services' settings.

Run inside a service's pod (`kubectl exec deploy/xjcert-<service> -- python -m
services.ops ...`), where the settings and secrets are already in place, or
anywhere with the same XJCERT_* variables. docs/operations.md says when to use
which.
"""

from __future__ import annotations

import sys
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from services.certificates.rebuild import rebuild as rebuild_certificates
from services.common import dead_letters
from services.common.logs import configure_logging
from services.common.republish import republish_from_start
from services.common.settings import SettingError, Settings, load_settings
from services.common.topology import PRODUCERS, SUBSCRIPTIONS
from services.common.workdays import (
    CalendarYearNotCovered,
    RegionalHolidayFileError,
    WorkingCalendar,
)
from services.notifications import report
from services.ops import batches, calendar, lag, schema
from tools.authorities import (
    batch_arrived_message,
    certificates_printed_message,
    ecert_signed_message,
    publish_fact,
)
from tools.exam_authority import Broker, results_message, sample_candidates
from tools.exam_authority import publish as publish_results

console = Console()

# Dead letters are moved back this many at a time, so progress shows as it goes.
REPLAY_CHUNK = 100
QUEUES = click.Choice(sorted(SUBSCRIPTIONS))


def settings() -> Settings:
    try:
        return load_settings()
    except SettingError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def cli() -> None:
    """Operate the certificates product: dead letters, read models, the relay,
    test events, the working-day calendar, ministry batches and schemas."""
    # Warnings and errors only: the commands print their own results.
    configure_logging("ops", "WARNING")


# --- dead letters ------------------------------------------------------------------


@cli.group("dead-letters")
def dead_letters_group() -> None:
    """Inspect and replay messages that consumers gave up on."""


@dead_letters_group.command("counts")
def dead_letter_counts() -> None:
    """How many dead letters wait for each consumer queue."""
    counts = dead_letters.dead_letter_counts(settings().amqp_uri)
    table = Table("queue", "dead letters")
    for queue, count in counts.items():
        table.add_row(f"{queue}.dead", str(count), style="bold red" if count else None)
    console.print(table)


@dead_letters_group.command("list")
@click.argument("queue", type=QUEUES)
@click.option("--limit", default=100, show_default=True, help="at most this many")
def list_dead_letters(queue: str, limit: int) -> None:
    """Show what waits in QUEUE.dead and why; nothing is removed."""
    letters = dead_letters.list_dead_letters(settings().amqp_uri, queue, limit)
    table = Table("dead since", "reason code", "message id", "attempts", "reason")
    for letter in letters:
        table.add_row(
            letter.dead_at or "",
            letter.reason_code or "",
            letter.message_id or "",
            str(letter.attempts or ""),
            letter.reason or "",
        )
    console.print(table)
    console.print(f"{len(letters)} dead letter(s) shown from {queue}.dead")


@dead_letters_group.command("replay")
@click.argument("queue", type=QUEUES)
@click.option("--limit", type=int, help="move at most this many")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def replay_dead_letters(queue: str, limit: int | None, yes: bool) -> None:
    """Send the messages in QUEUE.dead back to QUEUE, each confirmed first."""
    amqp_uri = settings().amqp_uri
    waiting = dead_letters.dead_letter_counts(amqp_uri)[queue]
    # Only what waits now: a message that fails again at once must not loop.
    total = waiting if limit is None else min(limit, waiting)
    if total == 0:
        console.print(f"{queue}.dead is empty")
        return
    if not yes:
        click.confirm(f"Send {total} message(s) back to {queue}?", abort=True)
    moved = _replay_with_progress(amqp_uri, queue, total)
    console.print(f"{moved} message(s) sent back to {queue}")


def _replay_with_progress(amqp_uri: str, queue: str, total: int) -> int:
    moved = 0
    with _progress() as progress:
        task = progress.add_task(f"replaying {queue}.dead", total=total)
        while moved < total:
            chunk = min(REPLAY_CHUNK, total - moved)
            done = dead_letters.replay_dead_letters(amqp_uri, queue, chunk)
            if done == 0:
                break
            moved += done
            progress.advance(task, done)
    return moved


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    )


# --- read models and the relay -----------------------------------------------------


@cli.command("rebuild")
@click.argument("read_model", type=click.Choice(["certificates"]))
def rebuild(read_model: str) -> None:
    """Rebuild a read model from its service's event store.

    Certificates replays every recorded certificate event through the live
    projection in one transaction; readers see the old rows until it commits.
    """
    replayed = rebuild_certificates(settings(), progress=sys.stderr.isatty())
    console.print(f"{read_model} read model rebuilt from {replayed} recorded events")


@cli.command("republish")
@click.argument("producer", type=click.Choice(PRODUCERS))
def republish(producer: str) -> None:
    """Publish a service's whole history again, in order, with the same ids."""
    before = republish_from_start(settings().database.conninfo(), producer)
    if before is None:
        raise click.ClickException(f"{producer} has never run: nothing to publish")
    console.print(f"{producer}: relay moved from position {before} back to the start")


@cli.command("relay-lag")
def relay_lag() -> None:
    """Recorded events each relay has not published yet, and who publishes."""
    table = Table("service", "recorded", "published", "behind", "publishing")
    for row in lag.relay_lags(settings().database.conninfo()):
        table.add_row(
            row.producer,
            str(row.recorded),
            str(row.published),
            str(row.behind),
            "yes" if row.publishing else "[bold red]no replica[/]",
            style="bold" if row.behind else None,
        )
    console.print(table)


# --- test events, as outside systems publish them ----------------------------------


@cli.group()
@click.option(
    "--amqp-uri",
    envvar="XJCERT_OUTSIDE_AMQP_URI",
    help="connect as the outside system, with its own user; default: the service's",
)
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_context
def publish(context: click.Context, amqp_uri: str | None, yes: bool) -> None:
    """Publish a test event exactly as an outside system would (plain AMQP).

    The services record it as real: prefer a test environment, and made-up
    certificate numbers that no holder has.
    """
    context.obj = {"amqp_uri": amqp_uri, "confirmed": yes}


def outside_broker(options: dict[str, Any]) -> Any:
    if not options["confirmed"]:
        click.confirm("The services will record this event as real. Go on?", abort=True)
    return Broker(options["amqp_uri"] or settings().amqp_uri)


@publish.command("exam-results")
@click.option("--session", default=None, help="exam session id (default: ops-test-…)")
@click.option("--candidates", default=3, show_default=True)
@click.option("--xpcc", default=0, show_default=True, help="how many from the XPCC")
@click.pass_obj
def publish_exam_results(
    options: dict, session: str | None, candidates: int, xpcc: int
) -> None:
    """The exam authority's results_published, with made-up candidates."""
    session = session or f"ops-test-{date.today():%Y%m%d}-{_short_id()}"
    passed = sample_candidates(session, candidates, xpcc)
    publish_results(outside_broker(options), results_message(session, passed))
    console.print(f"exam session {session}: {candidates} candidate(s) published")


@publish.command("batch-arrived")
@click.argument("period")
@click.argument("certificate_numbers", nargs=-1, required=True)
@click.pass_obj
def publish_batch_arrived(
    options: dict, period: str, certificate_numbers: tuple
) -> None:
    """The ministry's batch_arrived for PERIOD, naming the certificates."""
    publish_fact(
        outside_broker(options),
        batch_arrived_message(period, list(certificate_numbers)),
    )
    console.print(f"batch {period}: {len(certificate_numbers)} arrival(s) published")


@publish.command("ecert-signed")
@click.argument("certificate_number")
@click.option(
    "--by",
    "producer",
    type=click.Choice(["industry_authority", "health_commission"]),
    required=True,
)
@click.pass_obj
def publish_ecert_signed(options: dict, certificate_number: str, producer: str) -> None:
    """An authority's ecert_signed for one regional e-certificate."""
    publish_fact(
        outside_broker(options), ecert_signed_message(producer, certificate_number)
    )
    console.print(f"ecert_signed from {producer} published")


@publish.command("certificates-printed")
@click.argument("batch")
@click.argument("certificate_numbers", nargs=-1, required=True)
@click.pass_obj
def publish_certificates_printed(
    options: dict, batch: str, certificate_numbers: tuple
) -> None:
    """The ministry's certificates_printed for a batch of national certificates."""
    publish_fact(
        outside_broker(options),
        certificates_printed_message(batch, list(certificate_numbers)),
    )
    console.print(f"printed batch {batch}: {len(certificate_numbers)} published")


def _short_id() -> str:
    return uuid.uuid4().hex[:6]


# --- the working-day calendar ------------------------------------------------------


@cli.group("calendar")
def calendar_group() -> None:
    """The working-day calendar: which years it covers, and loading a new one."""


@calendar_group.command("show")
@click.option("--file", "path", type=click.Path(exists=True, path_type=Path))
def show_calendar(path: Path | None) -> None:
    """Years covered, whether official or estimated, and their regional days off."""
    working = WorkingCalendar.from_file(path or calendar.DEFAULT_REGIONAL_FILE)
    table = Table("year", "national days", "working days")
    for year in sorted(working.covered_years):
        days = working.working_days_between(date(year - 1, 12, 31), date(year, 12, 31))
        table.add_row(str(year), working.year_status(year), str(days))
    console.print(table)
    console.print(f"from {working.source}")


@calendar_group.command("load")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--into",
    "targets",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="calendar file to change (repeatable); default: the packaged file and, "
    "in a checkout, deploy/base/calendar/",
)
@click.option("--replace", is_flag=True, help="overwrite years already present")
def load_calendar(source: Path, targets: tuple[Path, ...], replace: bool) -> None:
    """Merge the years in SOURCE into the calendar the services read."""
    try:
        loaded = calendar.load_years(
            source, list(targets) or calendar.default_targets(), replace
        )
    except (RegionalHolidayFileError, calendar.YearAlreadyLoaded) as error:
        raise click.ClickException(str(error)) from None
    for result in loaded:
        console.print(f"{', '.join(result.years)} loaded into {result.target}")
    console.print(
        "Apply the overlay (kubectl apply -k deploy/overlays/<env>) so the pods "
        "restart with it; commit the files so the next image carries it too."
    )


# --- ministry batches --------------------------------------------------------------


@cli.group("batch")
def batch_group() -> None:
    """The monthly reissue batches for the ministry."""


@batch_group.command("close")
@click.argument("period")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def close_batch(period: str, yes: bool) -> None:
    """Close the batch of PERIOD (like 2026-12) now, as its closing day would."""
    if not yes:
        click.confirm(f"Close the reissue batch {period} for the ministry?", abort=True)
    try:
        batch = batches.close_batch(settings(), period)
    except batches.NotAPeriod as error:
        raise click.ClickException(str(error)) from None
    console.print(
        f"batch {batch.period}: {batch.state}, {len(batch.entries)} certificate(s), "
        f"closing day {batch.closes_on}"
    )


# --- committed deadlines -----------------------------------------------------------

DAY = click.DateTime(formats=["%Y-%m-%d"])


@cli.command("deadlines-report")
@click.option(
    "--from",
    "first",
    type=DAY,
    help="first Beijing date a clock started; default: the 1st of last month",
)
@click.option(
    "--to",
    "last",
    type=DAY,
    help="last Beijing date a clock started, included; default: end of last month",
)
@click.option("--csv", "as_csv", is_flag=True, help="print CSV instead of a table")
def deadlines_report(
    first: datetime | None, last: datetime | None, as_csv: bool
) -> None:
    """Committed deadlines (承诺办结时间) started in a period, per kind: met on
    time, met late, still open and overdue, and the working days they took."""
    today = report.today_in_beijing()
    period = _report_period(first, last, today)
    try:
        with psycopg.connect(settings().database.conninfo()) as conn:
            rows = report.load_deadlines(conn, report.READ_SCHEMA, *period)
        summaries = report.summarize(rows, WorkingCalendar.from_default_file(), today)
    except (report.DeadlinesTableMissing, CalendarYearNotCovered) as error:
        raise click.ClickException(str(error)) from None
    if as_csv:
        report.write_csv(summaries, sys.stdout)
    else:
        console.print(report.render_table(summaries, *period))


def _report_period(
    first: datetime | None, last: datetime | None, today: date
) -> tuple[date, date]:
    if first is None and last is None:
        return report.previous_month(today)
    if first is None or last is None:
        raise click.UsageError("give both --from and --to, or neither for last month")
    if last < first:
        raise click.BadParameter(
            f"{last:%Y-%m-%d} is before --from {first:%Y-%m-%d}", param_hint="'--to'"
        )
    return first.date(), last.date()


# --- schemas -----------------------------------------------------------------------


@cli.group("schema")
def schema_group() -> None:
    """The services' database schemas, created by a Job once per release."""


@schema_group.command("create")
def create_schema() -> None:
    """Create every service's schemas and tables, and record this release."""
    created = schema.create_schemas(settings())
    console.print(f"schemas of {', '.join(created)} ready for {schema.release()}")


@schema_group.command("wait")
@click.option("--timeout", default=600, show_default=True, help="seconds")
def wait_for_schema(timeout: int) -> None:
    """Wait until the schema Job of this release has finished (init containers)."""
    if not schema.wait_for_schemas(settings(), timeout):
        raise click.ClickException(
            f"the schemas of release {schema.release()} are not there after "
            f"{timeout}s: has the xjcert-schema Job run?"
        )
    console.print(f"schemas ready for {schema.release()}")


def main() -> None:
    cli(prog_name="python -m services.ops")
