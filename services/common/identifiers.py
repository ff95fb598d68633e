"""Identifiers every service derives the same way: part of the services' contract."""

from __future__ import annotations

import uuid

CERTIFICATE_NAMESPACE = uuid.UUID("0d5a3c1e-2b8f-4c47-8f0e-6a9b1d2e3f40")


def certificate_id(certificate_number: str) -> uuid.UUID:
    """A certificate's id: certificate numbers are unique, so results delivered again
    map to the same certificate, and any service can find one by its number."""
    return uuid.uuid5(CERTIFICATE_NAMESPACE, certificate_number)
