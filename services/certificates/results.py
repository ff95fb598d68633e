"""Exam results as the exam authority publishes them, checked beyond their schema.

The schema checks shapes; here we check what a schema cannot: ID-number checksums,
a qualification we know, one certificate number per candidate. A message that
fails any of these is refused whole, so a session is never half recorded, and
the reason names candidates by their position, never by ID number or name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from stdnum.cn import ric

from services.certificates.catalogue import (
    Qualification,
    UnknownQualification,
    qualification,
)
from services.common.envelope import ContractViolation, Envelope

MAX_POSITIONS_IN_REASON = 20


@dataclass(frozen=True)
class ExamSession:
    session_id: str
    qualification: Qualification
    level: str
    exam_end_date: date


@dataclass(frozen=True)
class PassedCandidate:
    id_number: str
    name: str
    certificate_number: str
    registration_place: str
    specialty: str | None = None


@dataclass(frozen=True)
class ExamResults:
    session: ExamSession
    candidates: tuple[PassedCandidate, ...]


def read_results(envelope: Envelope) -> ExamResults:
    data = envelope.data
    session = _session(data["exam_session"])
    candidates = tuple(_candidate(raw) for raw in data["candidates"])
    _refuse_bad_id_numbers(candidates)
    _refuse_repeated_certificate_numbers(candidates)
    return ExamResults(session=session, candidates=candidates)


def _session(raw: dict) -> ExamSession:
    try:
        known = qualification(raw["qualification_code"])
    except UnknownQualification as error:
        raise ContractViolation("unknown_qualification", str(error)) from None
    try:
        end = date.fromisoformat(raw["exam_end_date"])
    except ValueError:
        raise ContractViolation(
            "invalid_date", "data.exam_session.exam_end_date is not a calendar date"
        ) from None
    return ExamSession(raw["session_id"], known, raw["level"], end)


def _candidate(raw: dict) -> PassedCandidate:
    return PassedCandidate(
        id_number=raw["id_number"].upper(),
        name=raw["name"],
        certificate_number=raw["certificate_number"],
        registration_place=raw["registration_place"],
        specialty=raw.get("specialty"),
    )


def _refuse_bad_id_numbers(candidates: tuple[PassedCandidate, ...]) -> None:
    bad = [i for i, c in enumerate(candidates) if not ric.is_valid(c.id_number)]
    if bad:
        raise ContractViolation(
            "invalid_id_number",
            f"{len(bad)} candidate(s) have an ID number that is not a valid "
            "resident ID (checksum, birth date or region code), "
            f"at positions {_positions(bad)}",
        )


def _refuse_repeated_certificate_numbers(
    candidates: tuple[PassedCandidate, ...],
) -> None:
    counts = Counter(c.certificate_number for c in candidates)
    repeated = [i for i, c in enumerate(candidates) if counts[c.certificate_number] > 1]
    if repeated:
        raise ContractViolation(
            "repeated_certificate_number",
            f"candidates at positions {_positions(repeated)} share a certificate "
            "number",
        )


def _positions(indexes: list[int]) -> str:
    shown = ", ".join(str(i) for i in indexes[:MAX_POSITIONS_IN_REASON])
    return shown + (" ..." if len(indexes) > MAX_POSITIONS_IN_REASON else "")
