"""The reissue application: what holders, reviewers and administrators can do.

Each use case loads the aggregates it changes, checks the rules, and saves them in
one call, so an application and its certificate's open marker, or a batch and its
applications, change together or not at all.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from eventsourcing.persistence import IntegrityError

from services.common.errors import Conflict, Invalid, NotFound
from services.common.eventstore import ServiceApplication
from services.common.workdays import BEIJING, WorkingCalendar
from services.reissue.domain import (
    REVIEW_WORKING_DAYS,
    SYNC_WORKING_DAYS,
    Application,
    BatchState,
    MinistryBatch,
    OpenApplication,
    Path,
    State,
    batch_id,
    open_application_id,
)
from services.reissue.materials import Material, required_materials

log = logging.getLogger(__name__)

T = TypeVar("T")

# Fields a reviewer may name, besides the materials, when returning an application.
RETURNABLE_FIELDS = ("reason",)
# Races for one batch are between a few reviewers and the monthly close.
CONFLICT_RETRIES = 5
PROBLEMS = (*(m.value for m in Material), *RETURNABLE_FIELDS)


@dataclass(frozen=True)
class Arrival:
    """What one `batch_arrived` message did to its batch."""

    period: str
    recorded: list[str]
    already_arrived: list[str]
    unknown: list[str]
    sync_due: date | None
    duplicate: bool = False


class ReissueApplication(ServiceApplication):
    name = "Reissue"
    calendar: WorkingCalendar  # set by the composition root before use
    batch_closing_day: int

    # --- holders ------------------------------------------------------------------

    def start(
        self,
        account_id: uuid.UUID,
        certificate: dict[str, Any],
        reason: str,
    ) -> Application:
        """A draft for an eligible certificate (see eligibility.py)."""
        certificate_id = certificate["certificate_id"]
        marker = self.find_aggregate(
            open_application_id(certificate_id), OpenApplication
        )
        if marker is None:
            marker = OpenApplication.for_certificate(certificate_id)
        if marker.application_id is not None:
            raise Conflict(
                "application_open",
                "这本证书已有一份未办结的补办申请，请在“我的补办申请”中继续办理。",
            )
        application = Application.start(
            account_id=account_id,
            certificate_id=certificate_id,
            certificate_number=certificate["certificate_number"],
            kind=certificate["kind"],
            holder_id_number=certificate["holder_id_number"],
            holder_name=certificate["holder_name"],
            qualification_name=certificate["qualification_name"],
            level=certificate["level"],
            reason=reason,
        )
        marker.open(application.id)
        try:
            self.save(marker, application)
        except IntegrityError:
            raise Conflict(
                "application_open",
                "这本证书已有一份未办结的补办申请，请在“我的补办申请”中继续办理。",
            ) from None
        return application

    def change_reason(
        self, account_id: uuid.UUID, application_id: uuid.UUID, reason: str
    ) -> None:
        application = self.editable(account_id, application_id)
        if application.reason != reason:
            application.change_reason(reason)
            self.save(application)

    def attach(
        self,
        account_id: uuid.UUID,
        application_id: uuid.UUID,
        material: str,
        digest: str,
        content_type: str,
        size: int,
    ) -> None:
        application = self.editable(account_id, application_id)
        held = application.materials.get(material)
        if held is not None and held["digest"] == digest:
            return
        application.attach(material, digest, content_type, size)
        self.save(application)

    def remove(
        self, account_id: uuid.UUID, application_id: uuid.UUID, material: str
    ) -> None:
        application = self.editable(account_id, application_id)
        if material in application.materials:
            application.remove(material)
            self.save(application)

    def submit(
        self, account_id: uuid.UUID, application_id: uuid.UUID, now: datetime
    ) -> date:
        """Send for review; the 3-working-day clock starts at every (re)submission."""
        application = self.editable(account_id, application_id)
        missing = [m for m in required_materials() if m not in application.materials]
        if missing:
            names = "、".join(m.label for m in missing)
            raise Invalid("materials_missing", f"提交前请上传：{names}。")
        review_due = self.calendar.add_working_days(
            now.astimezone(BEIJING).date(), REVIEW_WORKING_DAYS
        )
        application.submit(now, review_due)
        self.save(application)
        return review_due

    def withdraw(
        self, account_id: uuid.UUID, application_id: uuid.UUID, now: datetime
    ) -> None:
        application = self._own(account_id, application_id)
        if application.state not in (State.DRAFT, State.SUBMITTED, State.RETURNED):
            raise Conflict(
                "not_withdrawable", "申请已审核通过，不能撤回。如有疑问请咨询中心。"
            )
        application.withdraw(now)
        marker = self._marker_of(application)
        marker.close(application.id)
        self.save(application, marker)

    # --- reviewers ----------------------------------------------------------------

    def return_to_holder(
        self,
        reviewer_id: uuid.UUID,
        application_id: uuid.UUID,
        message: str,
        problems: list[str],
        now: datetime,
    ) -> None:
        application = self._waiting_for_review(application_id)
        unknown = [p for p in problems if p not in PROBLEMS]
        if unknown:
            allowed = "、".join(PROBLEMS)
            raise Invalid(
                "unknown_problem", f"退回时只能指出这些材料或字段：{allowed}。"
            )
        application.return_to_holder(reviewer_id, message, problems, now)
        self.save(application)

    def approve(
        self, reviewer_id: uuid.UUID, application_id: uuid.UUID, now: datetime
    ) -> str | None:
        """Approve; a national reissue joins the month's ministry batch (its period)."""

        def attempt() -> str | None:
            application = self._waiting_for_review(application_id)
            application.approve(reviewer_id, now, application.path)
            if application.path != Path.MINISTRY_BATCH:
                self.save(application)
                return None
            batch = self._batch_taking(now.astimezone(BEIJING).date())
            batch.include(application.id, application.certificate_number)
            application.join_batch(batch.id, batch.period)
            self.save(application, batch)
            return batch.period

        return self._after_losing_a_race(attempt)

    # --- ministry batches ---------------------------------------------------------

    def close_batch(self, period: str, now: datetime) -> MinistryBatch:
        def attempt() -> MinistryBatch:
            batch = self.find_aggregate(batch_id(period), MinistryBatch)
            if batch is None:
                batch = MinistryBatch.open_for(period, self._closing_day(period))
            if not batch.is_open:
                return batch
            entries = [self._export_entry(uuid.UUID(a)) for a in batch.entries.values()]
            batch.close(now, entries)
            self.save(batch)
            log.info("ministry batch %s closed with %s entries", period, len(entries))
            return batch

        return self._after_losing_a_race(attempt)

    def _after_losing_a_race(self, attempt: Callable[[], T]) -> T:
        """Run a command on the month's batch again if another writer got there first.

        Every approval of a national reissue and the closing of its month write the
        same batch, so two reviewers approving at once, or an approval while the
        batch closes, is a version race. The loser reloads and decides again: its
        approval joins the batch (or the next month's, if this one just closed), and
        a close finds the batch with the approval in it, or already closed.
        """
        for tries in range(1, CONFLICT_RETRIES + 1):
            try:
                return attempt()
            except IntegrityError:
                if tries == CONFLICT_RETRIES:
                    raise
                time.sleep(random.uniform(0, 0.01 * tries))
        raise AssertionError("unreachable")

    def batches_due(self, today: date) -> list[str]:
        """Periods whose closing day has passed and whose batch is still open."""
        due = []
        for period in (_period(today), _previous_period(today)):
            batch = self.find_aggregate(batch_id(period), MinistryBatch)
            if batch is not None and batch.is_open and today > batch.closes_on:
                due.append(period)
        return due

    def batch(self, period: str) -> MinistryBatch:
        batch = self.find_aggregate(batch_id(period), MinistryBatch)
        if batch is None:
            raise NotFound("batch_not_found", f"没有 {period} 的补办批次。")
        return batch

    def record_arrival(
        self,
        period: str,
        arrival_id: str,
        arrived_at: datetime,
        certificate_numbers: list[str],
    ) -> Arrival:
        """The ministry's printed certificates reached Xinjiang: start the sync clock.

        Idempotent per message; certificates that already arrived are ignored, and
        ones the batch never held are recorded as unknown for operators.
        """
        batch = self.find_aggregate(batch_id(period), MinistryBatch)
        if batch is None or batch.state != BatchState.CLOSED:
            raise UnknownBatch(period)
        if arrival_id in batch.arrivals:
            return Arrival(period, [], [], [], None, duplicate=True)
        numbers = list(dict.fromkeys(certificate_numbers))
        already = [n for n in numbers if n in batch.arrived]
        unknown = [n for n in numbers if n not in batch.entries]
        new = [n for n in numbers if n in batch.entries and n not in batch.arrived]
        sync_due = self.calendar.add_working_days(
            arrived_at.astimezone(BEIJING).date(), SYNC_WORKING_DAYS
        )
        batch.record_arrival(arrival_id, arrived_at, new, unknown, sync_due)
        applications = [self._application(uuid.UUID(batch.entries[n])) for n in new]
        for application in applications:
            application.arrive(arrived_at, sync_due)
        self.save(batch, *applications)
        return Arrival(period, new, already, unknown, sync_due)

    def sync(
        self, staff_id: uuid.UUID, application_ids: list[uuid.UUID], now: datetime
    ) -> list[str]:
        """The arrived certificates' data is on the platform: claimable again."""
        changed: list[Any] = []
        synced = []
        for application_id in application_ids:
            application = self._application(application_id)
            if application.state == State.SYNCED:
                continue
            if application.state != State.ARRIVED:
                raise Conflict(
                    "not_arrived",
                    f"证书 {application.certificate_number} 尚未随部里的批次到达，"
                    "不能同步。",
                )
            application.sync(staff_id, now)
            marker = self._marker_of(application)
            marker.close(application.id)
            changed += [application, marker]
            synced.append(application.certificate_number)
        if changed:
            self.save(*changed)
        return synced

    # --- reading ------------------------------------------------------------------

    def application_of(
        self, account_id: uuid.UUID, application_id: uuid.UUID
    ) -> Application:
        return self._own(account_id, application_id)

    def application(self, application_id: uuid.UUID) -> Application:
        return self._application(application_id)

    def history(self, application_id: uuid.UUID) -> list[Any]:
        return list(self.repository.event_store.get(application_id))

    # --- helpers ------------------------------------------------------------------

    def _batch_taking(self, today: date) -> MinistryBatch:
        """The open batch an approval today joins: this month's until it closes."""
        period = _period(today)
        if today.day > self.batch_closing_day:
            period = _next_period(period)
        for _ in range(12):
            batch = self.find_aggregate(batch_id(period), MinistryBatch)
            if batch is None:
                return MinistryBatch.open_for(period, self._closing_day(period))
            if batch.is_open:
                return batch
            period = _next_period(period)  # closed early by an administrator
        raise AssertionError("no open batch within a year")

    def _closing_day(self, period: str) -> date:
        year, month = (int(part) for part in period.split("-"))
        return date(year, month, self.batch_closing_day)

    def _export_entry(self, application_id: uuid.UUID) -> dict[str, Any]:
        application = self._application(application_id)
        return {
            "application_id": str(application.id),
            "certificate_number": application.certificate_number,
            "holder_name": application.holder_name,
            "holder_id_number": application.holder_id_number,
            "qualification_name": application.qualification_name,
            "level": application.level,
            "reason": application.reason,
        }

    def editable(self, account_id: uuid.UUID, application_id: uuid.UUID) -> Application:
        application = self._own(account_id, application_id)
        if not application.is_editable:
            raise Conflict(
                "not_editable",
                "申请已提交审核或已办结，不能修改；被退回后可修改并重新提交。",
            )
        return application

    def _own(self, account_id: uuid.UUID, application_id: uuid.UUID) -> Application:
        application = self._application(application_id)
        if application.account_id != account_id:
            # Another holder's application is answered as if it did not exist.
            raise NotFound("application_not_found", "没有找到这份补办申请。")
        return application

    def _waiting_for_review(self, application_id: uuid.UUID) -> Application:
        application = self._application(application_id)
        if application.state == State.RETURNED:
            raise Conflict(
                "returned_to_holder",
                "申请已退回申请人（个人），须等申请人修改并重新提交后才能审核。",
            )
        if application.state != State.SUBMITTED:
            raise Conflict("not_waiting_for_review", "这份申请不在待审核状态。")
        return application

    def _application(self, application_id: uuid.UUID) -> Application:
        application = self.find_aggregate(application_id, Application)
        if application is None:
            raise NotFound("application_not_found", "没有找到这份补办申请。")
        return application

    def _marker_of(self, application: Application) -> OpenApplication:
        marker = self.find_aggregate(
            open_application_id(application.certificate_id), OpenApplication
        )
        if marker is None:
            raise AssertionError("an application always has its open marker")
        return marker


class UnknownBatch(LookupError):
    """A `batch_arrived` for a batch the centre never sent to the ministry."""

    def __init__(self, period: str) -> None:
        super().__init__(f"no closed ministry batch for period {period!r}")
        self.period = period


def _period(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _next_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def _previous_period(day: date) -> str:
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return f"{year:04d}-{month:02d}"
