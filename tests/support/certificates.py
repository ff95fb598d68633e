"""Certificates made in tests the way the certificates application makes them."""

from __future__ import annotations

from datetime import date

from services.certificates.catalogue import qualification
from services.certificates.domain import Certificate


def registered(number: str) -> Certificate:
    return Certificate.register(
        certificate_number=number,
        holder_id_number="650102199308052190",
        holder_name="李文静",
        qualification=qualification("economist"),
        level="中级",
        specialty=None,
        exam_session_id="2025-econ",
        exam_end_date=date(2025, 11, 9),
        registration_place="xinjiang",
    )
