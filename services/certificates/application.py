"""The certificates application: records certificates from exam results."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError
from psycopg import sql

from services.certificates.catalogue import Kind
from services.certificates.domain import (
    CENTRE_SIGNATURE_WORKING_DAYS,
    SIGNING_POLICY_ID,
    Authority,
    Certificate,
    SigningPolicy,
    certificate_id,
)
from services.certificates.results import ExamResults, PassedCandidate
from services.common.errors import Conflict, NotFound
from services.common.eventstore import ServiceApplication, events_table
from services.common.relay import Publication
from services.common.workdays import BEIJING, WorkingCalendar

log = logging.getLogger(__name__)

# A concurrent delivery of the same results can win the race for a batch; the
# loser looks again at what exists and saves the rest.
SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class RecordingReport:
    recorded: int
    already_recorded: int


class CertificatesApplication(ServiceApplication):
    name = "Certificates"
    calendar: WorkingCalendar  # set by the composition root before use

    def record_results(
        self, results: ExamResults, batch_size: int = 1000
    ) -> RecordingReport:
        """Record one certificate per passed candidate, in batched transactions.

        Idempotent: certificate ids derive from certificate numbers, so results
        delivered again record nothing new.
        """
        recorded = 0
        for batch in _batches(results.candidates, batch_size):
            recorded += self._record_batch(results, batch)
        return RecordingReport(recorded, len(results.candidates) - recorded)

    def certificate(self, number: str) -> Certificate:
        return self.repository.get(certificate_id(number))

    def find(self, number: str) -> Certificate | None:
        return self.find_aggregate(certificate_id(number), Certificate)

    # --- printed paper certificates ------------------------------------------------

    def record_printed(
        self,
        batch: str,
        arrived_at: datetime,
        numbers: list[str],
        chunk_size: int = 500,
    ) -> PrintReport:
        """The ministry's batch of printed national certificates arrived.

        Idempotent: a certificate already marked printed is left alone. Numbers not
        on record, or of certificates that are not printed on paper, are reported.
        """
        recorded, already, unknown = 0, 0, []
        unique = list(dict.fromkeys(numbers))
        for start in range(0, len(unique), chunk_size):
            chunk = unique[start : start + chunk_size]
            for attempt in range(1, SAVE_ATTEMPTS + 1):
                try:
                    outcome = self._record_printed_chunk(batch, arrived_at, chunk)
                    break
                except IntegrityError:
                    if attempt == SAVE_ATTEMPTS:
                        raise
            recorded += outcome.recorded
            already += outcome.already_recorded
            unknown += outcome.unknown
        return PrintReport(recorded, already, unknown)

    def _record_printed_chunk(
        self, batch: str, arrived_at: datetime, numbers: list[str]
    ) -> PrintReport:
        changed, already, unknown = [], 0, []
        for number in numbers:
            certificate = self.find(number)
            if certificate is None or certificate.kind != Kind.NATIONAL_PAPER:
                unknown.append(number)
            elif certificate.printed_at is not None:
                already += 1
            else:
                certificate.record_print(batch, arrived_at)
                changed.append(certificate)
        if changed:
            self.save(*changed)
        return PrintReport(len(changed), already, unknown)

    # --- electronic certificates --------------------------------------------------

    def record_authority_signature(
        self, number: str, authority: str, signed_at: datetime
    ) -> bool:
        """The industry authority or health commission signed; False if on record.

        An industry signature starts the centre's own 3-working-day clock.
        """
        certificate = self.find(number)
        if certificate is None:
            raise UnknownCertificate(number)
        expected = Authority.FOR_KIND.get(Kind(certificate.kind))
        if expected != authority:
            raise WrongSigner(authority, certificate.kind)
        if certificate.authority_signed_at is not None:
            return False
        sign_by = None
        if authority == Authority.INDUSTRY:
            sign_by = self.calendar.add_working_days(
                signed_at.astimezone(BEIJING).date(), CENTRE_SIGNATURE_WORKING_DAYS
            )
        certificate.sign_by_authority(authority, signed_at, sign_by)
        self.save(certificate)
        return True

    def sign_by_centre(
        self, number: str, staff_id: uuid.UUID | None, now: datetime
    ) -> Certificate:
        """The centre's signature, by a staff member or (None) the automatic signer."""
        certificate = self._existing(number)
        if certificate.centre_signed_at is not None:
            return certificate
        if certificate.is_revoked:
            raise Conflict("certificate_revoked", "这本证书已注销，不能签章。")
        if not certificate.awaits_centre_signature:
            raise Conflict(
                "not_awaiting_centre_signature",
                "这本证书不需要或尚不能由中心签章：须为行业主管部门已签发的"
                "自治区级电子证书。",
            )
        certificate.sign_by_centre(staff_id, now, staff_id is None)
        self.save(certificate)
        return certificate

    def revoke(
        self, number: str, administrator_id: uuid.UUID, reason: str, now: datetime
    ) -> Certificate:
        certificate = self._existing(number)
        if certificate.is_revoked:
            raise Conflict("already_revoked", "这本证书已经注销。")
        certificate.revoke(administrator_id, reason, now)
        self.save(certificate)
        return certificate

    # --- the centre's signing policy ---------------------------------------------

    def automatic_signing(self) -> bool:
        policy = self._signing_policy()
        return policy is not None and policy.automatic

    def set_automatic_signing(
        self, automatic: bool, administrator_id: uuid.UUID, now: datetime
    ) -> None:
        policy = self._signing_policy() or SigningPolicy.create()
        if policy.automatic != automatic or policy.version == 1:
            policy.set_automatic(automatic, administrator_id, now)
            self.save(policy)

    def _signing_policy(self) -> SigningPolicy | None:
        return self.find_aggregate(SIGNING_POLICY_ID, SigningPolicy)

    def _existing(self, number: str) -> Certificate:
        certificate = self.find(number)
        if certificate is None:
            raise NotFound("certificate_not_found", "没有这个编号的证书。")
        return certificate

    def _record_batch(
        self, results: ExamResults, batch: Sequence[PassedCandidate]
    ) -> int:
        ids = [certificate_id(c.certificate_number) for c in batch]
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            existing = self._existing_ids(ids)
            new = [
                _certificate(results, candidate)
                for candidate, id_ in zip(batch, ids, strict=True)
                if id_ not in existing
            ]
            try:
                if new:
                    self.save(*new)
                return len(new)
            except IntegrityError:
                if attempt == SAVE_ATTEMPTS:
                    raise
                log.warning("a batch was recorded concurrently; looking again")
        return 0

    def _existing_ids(self, ids: list[uuid.UUID]) -> set[uuid.UUID]:
        schema, table = events_table(self)
        query = sql.SQL(
            "SELECT originator_id FROM {}.{} "
            "WHERE originator_id = ANY(%s) AND originator_version = 1"
        ).format(sql.Identifier(schema), sql.Identifier(table))
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (ids,))
            return {row["originator_id"] for row in cursor.fetchall()}


@dataclass(frozen=True)
class PrintReport:
    recorded: int
    already_recorded: int
    unknown: list[str]


class UnknownCertificate(LookupError):
    """A signature for a certificate not (yet) on record: retried, then dead."""

    def __init__(self, number: str) -> None:
        super().__init__("no certificate with the signed certificate's number")
        self.number = number


class WrongSigner(ValueError):
    def __init__(self, authority: str, kind: str) -> None:
        super().__init__(f"{authority} does not sign {kind} certificates")
        self.authority = authority
        self.kind = kind


def _certificate(results: ExamResults, candidate: PassedCandidate) -> Certificate:
    session = results.session
    return Certificate.register(
        certificate_number=candidate.certificate_number,
        holder_id_number=candidate.id_number,
        holder_name=candidate.name,
        qualification=session.qualification,
        level=session.level,
        specialty=candidate.specialty,
        exam_session_id=session.session_id,
        exam_end_date=session.exam_end_date,
        registration_place=candidate.registration_place,
    )


def _batches(
    candidates: Sequence[PassedCandidate], size: int
) -> Iterator[Sequence[PassedCandidate]]:
    for start in range(0, len(candidates), size):
        yield candidates[start : start + size]


def publication(domain_event: DomainEventProtocol) -> Publication | None:
    """What other services see of the certificates' recorded events."""
    if isinstance(domain_event, Certificate.AuthoritySigned):
        return Publication(
            type="ecert_authority_signed",
            version=1,
            data={
                "authority": domain_event.authority,
                "signed_at": domain_event.signed_at.isoformat(),
                "centre_sign_by": _iso(domain_event.centre_sign_by),
            },
        )
    if isinstance(domain_event, Certificate.CentreSigned):
        return Publication(
            type="ecert_centre_signed",
            version=1,
            data={
                "signed_by": _text_or_none(domain_event.signed_by),
                "signed_at": domain_event.signed_at.isoformat(),
                "automatic": domain_event.automatic,
            },
        )
    if isinstance(domain_event, Certificate.Printed):
        return Publication(
            type="certificate_printed",
            version=1,
            data={
                "batch": domain_event.batch,
                "arrived_at": domain_event.arrived_at.isoformat(),
            },
        )
    if isinstance(domain_event, Certificate.Revoked):
        return Publication(
            type="certificate_revoked",
            version=1,
            data={
                "revoked_by": str(domain_event.revoked_by),
                "reason": domain_event.reason,
                "revoked_at": domain_event.revoked_at.isoformat(),
            },
        )
    if isinstance(domain_event, Certificate.Registered):
        return Publication(
            type="certificate_registered",
            version=1,
            data={
                "certificate_number": domain_event.certificate_number,
                "holder_id_number": domain_event.holder_id_number,
                "holder_name": domain_event.holder_name,
                "qualification_code": domain_event.qualification_code,
                "qualification_name": domain_event.qualification_name,
                "level": domain_event.level,
                "specialty": domain_event.specialty,
                "kind": domain_event.kind,
                "exam_session_id": domain_event.exam_session_id,
                "exam_end_date": domain_event.exam_end_date.isoformat(),
                "custody_until": _iso(domain_event.custody_until),
                "registration_place": domain_event.registration_place,
            },
        )
    return None


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _iso(day) -> str | None:
    return day.isoformat() if day is not None else None
