"""Reissue applications (证书补办) and the monthly batches sent to the ministry.

- `Application`: one holder's request to reissue one certificate, from draft through
  review (returned to the person, "个人", as often as needed) to approval, and for a
  national paper certificate on through the ministry's batch to the day its data is
  synced and the certificate is claimable again.
- `OpenApplication`: at most one open application per certificate. Starting an
  application saves it together with this marker, so two starts at once conflict.
- `MinistryBatch`: the approved national applications of one month, closed on a
  set day, exported for the ministry, and marked off as its printed certificates
  arrive.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("5b0e3f7a-91c4-4d2b-8a6e-3c1f2d4e5a60")

REVIEW_WORKING_DAYS = 3
SYNC_WORKING_DAYS = 5


class Reason:
    LOST = "lost"  # 遗失
    DAMAGED = "damaged"  # 损毁
    CUSTODY_EXPIRED = "custody_expired"  # 超过保管期未领取

    ALL = (LOST, DAMAGED, CUSTODY_EXPIRED)


class Path:
    """What follows an approval, by the kind of certificate."""

    MINISTRY_BATCH = "ministry_batch"  # national paper: printed by the ministry
    INDUSTRY_SIGNATURE = "industry_signature"  # regional: industry, then centre
    HEALTH_COMMISSION = "health_commission"  # regional health e-certificate

    BY_KIND = {
        "national_paper": MINISTRY_BATCH,
        "regional_industry": INDUSTRY_SIGNATURE,
        "regional_health": HEALTH_COMMISSION,
    }


class State:
    DRAFT = "draft"
    SUBMITTED = "submitted"  # waiting for review
    RETURNED = "returned"  # with the person (个人) to edit and resubmit
    APPROVED = "approved"
    IN_BATCH = "in_batch"  # in a ministry batch, waiting for the printed certificate
    ARRIVED = "arrived"  # printed certificate in Xinjiang, its data to be synced
    SYNCED = "synced"  # claimable like any national certificate
    WITHDRAWN = "withdrawn"

    EDITABLE = frozenset({DRAFT, RETURNED})
    # States after which a new application for the same certificate may start.
    CLOSED = frozenset({SYNCED, WITHDRAWN})


class Application(Aggregate):
    class Started(Aggregate.Created):
        account_id: uuid.UUID
        certificate_id: uuid.UUID
        certificate_number: str
        kind: str
        holder_id_number: str
        holder_name: str
        qualification_name: str
        level: str
        reason: str

    def __init__(
        self,
        account_id: uuid.UUID,
        certificate_id: uuid.UUID,
        certificate_number: str,
        kind: str,
        holder_id_number: str,
        holder_name: str,
        qualification_name: str,
        level: str,
        reason: str,
    ) -> None:
        self.account_id = account_id
        self.certificate_id = certificate_id
        self.certificate_number = certificate_number
        self.kind = kind
        self.holder_id_number = holder_id_number
        self.holder_name = holder_name
        self.qualification_name = qualification_name
        self.level = level
        self.reason = reason
        self.state = State.DRAFT
        self.materials: dict[str, dict] = {}
        self.review_due: date | None = None
        self.batch_id: uuid.UUID | None = None
        self.sync_due: date | None = None

    @classmethod
    def start(
        cls,
        *,
        account_id: uuid.UUID,
        certificate_id: uuid.UUID,
        certificate_number: str,
        kind: str,
        holder_id_number: str,
        holder_name: str,
        qualification_name: str,
        level: str,
        reason: str,
    ) -> Application:
        return cls._create(
            cls.Started,
            id=uuid.uuid4(),
            account_id=account_id,
            certificate_id=certificate_id,
            certificate_number=certificate_number,
            kind=kind,
            holder_id_number=holder_id_number,
            holder_name=holder_name,
            qualification_name=qualification_name,
            level=level,
            reason=reason,
        )

    @property
    def path(self) -> str:
        return Path.BY_KIND[self.kind]

    @property
    def is_editable(self) -> bool:
        return self.state in State.EDITABLE

    @event("ReasonChanged")
    def change_reason(self, reason: str) -> None:
        self.reason = reason

    @event("MaterialAttached")
    def attach(self, material: str, digest: str, content_type: str, size: int):
        self.materials = {
            **self.materials,
            material: {"digest": digest, "content_type": content_type, "size": size},
        }

    @event("MaterialRemoved")
    def remove(self, material: str) -> None:
        self.materials = {k: v for k, v in self.materials.items() if k != material}

    @event("Submitted")
    def submit(self, submitted_at: datetime, review_due: date) -> None:
        self.state = State.SUBMITTED
        self.review_due = review_due

    @event("Returned")
    def return_to_holder(
        self,
        reviewer_id: uuid.UUID,
        message: str,
        problems: list[str],
        returned_at: datetime,
    ) -> None:
        self.state = State.RETURNED
        self.review_due = None

    @event("Approved")
    def approve(self, reviewer_id: uuid.UUID, approved_at: datetime, path: str):
        self.state = State.APPROVED
        self.review_due = None

    @event("Batched")
    def join_batch(self, batch_id: uuid.UUID, period: str) -> None:
        self.state = State.IN_BATCH
        self.batch_id = batch_id

    @event("Arrived")
    def arrive(self, arrived_at: datetime, sync_due: date) -> None:
        self.state = State.ARRIVED
        self.sync_due = sync_due

    def sync(self, synced_by: uuid.UUID, synced_at: datetime) -> None:
        # The fact carries the certificate, so distribution can keep it again.
        self._synced(
            synced_by,
            synced_at,
            self.certificate_id,
            self.certificate_number,
            self.holder_id_number,
            self.holder_name,
        )

    @event("Synced")
    def _synced(
        self,
        synced_by: uuid.UUID,
        synced_at: datetime,
        certificate_id: uuid.UUID,
        certificate_number: str,
        holder_id_number: str,
        holder_name: str,
    ) -> None:
        self.state = State.SYNCED
        self.sync_due = None

    @event("Withdrawn")
    def withdraw(self, withdrawn_at: datetime) -> None:
        self.state = State.WITHDRAWN
        self.review_due = None


def open_application_id(certificate_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"open:{certificate_id}")


class OpenApplication(Aggregate):
    """Which application of a certificate is open, if any."""

    class Created(Aggregate.Created):
        certificate_id: uuid.UUID

    def __init__(self, certificate_id: uuid.UUID) -> None:
        self.certificate_id = certificate_id
        self.application_id: uuid.UUID | None = None

    @classmethod
    def for_certificate(cls, certificate_id: uuid.UUID) -> OpenApplication:
        return cls._create(
            cls.Created,
            id=open_application_id(certificate_id),
            certificate_id=certificate_id,
        )

    @event("Opened")
    def open(self, application_id: uuid.UUID) -> None:
        self.application_id = application_id

    @event("Closed")
    def close(self, application_id: uuid.UUID) -> None:
        self.application_id = None


def batch_id(period: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"batch:{period}")


class BatchState:
    OPEN = "open"
    CLOSED = "closed"  # exported to the ministry, waiting for its certificates


class MinistryBatch(Aggregate):
    """One month's approved national reissues, as sent to the ministry."""

    class Opened(Aggregate.Created):
        period: str  # "2026-12"
        closes_on: date

    def __init__(self, period: str, closes_on: date) -> None:
        self.period = period
        self.closes_on = closes_on
        self.state = BatchState.OPEN
        # certificate number -> application id
        self.entries: dict[str, str] = {}
        self.arrived: list[str] = []
        self.unknown: list[str] = []
        self.arrivals: list[str] = []
        self.export: list[dict] = []

    @classmethod
    def open_for(cls, period: str, closes_on: date) -> MinistryBatch:
        return cls._create(
            cls.Opened, id=batch_id(period), period=period, closes_on=closes_on
        )

    @property
    def is_open(self) -> bool:
        return self.state == BatchState.OPEN

    @event("Included")
    def include(self, application_id: uuid.UUID, certificate_number: str) -> None:
        self.entries = {**self.entries, certificate_number: str(application_id)}

    def close(self, closed_at: datetime, entries: list[dict]) -> None:
        """`entries` is the export: what the ministry needs to print each one."""
        self._closed(self.period, closed_at, entries)

    @event("Closed")
    def _closed(self, period: str, closed_at: datetime, entries: list[dict]) -> None:
        self.state = BatchState.CLOSED
        self.export = entries

    class ArrivalRecorded(Aggregate.Event):
        arrival_id: str
        arrived_at: datetime
        certificate_numbers: list[str]
        unknown_certificate_numbers: list[str]
        sync_due: date

    @event(ArrivalRecorded)
    def record_arrival(
        self,
        arrival_id: str,
        arrived_at: datetime,
        certificate_numbers: list[str],
        unknown_certificate_numbers: list[str],
        sync_due: date,
    ) -> None:
        self.arrivals = [*self.arrivals, arrival_id]
        self.arrived = [*self.arrived, *certificate_numbers]
        self.unknown = [*self.unknown, *unknown_certificate_numbers]
