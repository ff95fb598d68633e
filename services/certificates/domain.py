"""The Certificate aggregate: one per candidate who reached the pass line."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from eventsourcing.domain import Aggregate, event

from services.certificates.catalogue import Kind, Qualification
from services.common.identifiers import certificate_id

CUSTODY_YEARS = 5


class Authority:
    """Who signs a regional electronic certificate before (or instead of) the centre."""

    INDUSTRY = "industry_authority"
    HEALTH_COMMISSION = "health_commission"

    FOR_KIND = {
        Kind.REGIONAL_INDUSTRY: INDUSTRY,
        Kind.REGIONAL_HEALTH: HEALTH_COMMISSION,
    }


CENTRE_SIGNATURE_WORKING_DAYS = 3


class RegistrationPlace:
    XINJIANG = "xinjiang"
    XPCC = "xpcc"  # 新疆生产建设兵团: served by the XPCC's own exam institute


def custody_ends(exam_end_date: date) -> date:
    """Unclaimed paper certificates are kept 5 years from the exam's end date."""
    try:
        return exam_end_date.replace(year=exam_end_date.year + CUSTODY_YEARS)
    except ValueError:  # 29 February in a year that has none
        return exam_end_date.replace(year=exam_end_date.year + CUSTODY_YEARS, day=28)


def custody_has_expired(custody_until: date | None, today: date) -> bool:
    return custody_until is not None and today > custody_until


class Certificate(Aggregate):
    class Registered(Aggregate.Created):
        certificate_number: str
        holder_id_number: str
        holder_name: str
        qualification_code: str
        qualification_name: str
        level: str
        specialty: str | None
        kind: str
        exam_session_id: str
        exam_end_date: date
        custody_until: date | None
        registration_place: str

    @staticmethod
    def create_id(certificate_number: str, **_: object) -> uuid.UUID:
        return certificate_id(certificate_number)

    def __init__(
        self,
        certificate_number: str,
        holder_id_number: str,
        holder_name: str,
        qualification_code: str,
        qualification_name: str,
        level: str,
        specialty: str | None,
        kind: str,
        exam_session_id: str,
        exam_end_date: date,
        custody_until: date | None,
        registration_place: str,
    ) -> None:
        self.certificate_number = certificate_number
        self.holder_id_number = holder_id_number
        self.holder_name = holder_name
        self.qualification_code = qualification_code
        self.qualification_name = qualification_name
        self.level = level
        self.specialty = specialty
        self.kind = kind
        self.exam_session_id = exam_session_id
        self.exam_end_date = exam_end_date
        self.custody_until = custody_until
        self.registration_place = registration_place
        self.authority_signed_at: datetime | None = None
        self.centre_sign_by: date | None = None
        self.centre_signed_at: datetime | None = None
        self.revoked_at: datetime | None = None
        self.revocation_reason: str | None = None
        self.printed_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def ecert_issued(self) -> bool:
        """Downloadable: the centre signed, or the health commission alone did."""
        if self.kind == Kind.REGIONAL_HEALTH:
            return self.authority_signed_at is not None
        return self.centre_signed_at is not None

    @property
    def awaits_centre_signature(self) -> bool:
        return (
            self.kind == Kind.REGIONAL_INDUSTRY
            and self.authority_signed_at is not None
            and self.centre_signed_at is None
        )

    @event("AuthoritySigned")
    def sign_by_authority(
        self, authority: str, signed_at: datetime, centre_sign_by: date | None
    ) -> None:
        self.authority_signed_at = signed_at
        self.centre_sign_by = centre_sign_by

    @event("CentreSigned")
    def sign_by_centre(
        self, signed_by: uuid.UUID | None, signed_at: datetime, automatic: bool
    ) -> None:
        """`signed_by` is the staff member, or None for the automatic signer."""
        self.centre_signed_at = signed_at
        self.centre_sign_by = None

    @event("Printed")
    def record_print(self, batch: str, arrived_at: datetime) -> None:
        """The ministry's printed paper certificate reached the centre."""
        self.printed_at = arrived_at

    @event("Revoked")
    def revoke(self, revoked_by: uuid.UUID, reason: str, revoked_at: datetime):
        self.revoked_at = revoked_at
        self.revocation_reason = reason
        self.centre_sign_by = None

    @classmethod
    def register(
        cls,
        *,
        certificate_number: str,
        holder_id_number: str,
        holder_name: str,
        qualification: Qualification,
        level: str,
        specialty: str | None,
        exam_session_id: str,
        exam_end_date: date,
        registration_place: str,
    ) -> Certificate:
        kind = qualification.kind_for(level)
        # Only paper certificates wait in the centre's custody.
        custody = custody_ends(exam_end_date) if kind is Kind.NATIONAL_PAPER else None
        return cls._create(
            cls.Registered,
            certificate_number=certificate_number,
            holder_id_number=holder_id_number,
            holder_name=holder_name,
            qualification_code=qualification.code,
            qualification_name=qualification.name,
            level=level,
            specialty=specialty,
            kind=str(kind),
            exam_session_id=exam_session_id,
            exam_end_date=exam_end_date,
            custody_until=custody,
            registration_place=registration_place,
        )


SIGNING_POLICY_ID = uuid.UUID("3c9a7e51-6b2d-4f80-9a1e-5d7c8b2f4a63")


class SigningPolicy(Aggregate):
    """Whether the centre's signature is given by staff or by the automatic signer."""

    class Created(Aggregate.Created):
        pass

    def __init__(self) -> None:
        self.automatic = False

    @classmethod
    def create(cls) -> SigningPolicy:
        return cls._create(cls.Created, id=SIGNING_POLICY_ID)

    @event("AutomaticSigningSet")
    def set_automatic(self, automatic: bool, set_by: uuid.UUID, set_at: datetime):
        self.automatic = automatic
