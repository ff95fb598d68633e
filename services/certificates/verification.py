"""Public verification (查验): is this certificate genuine, reissued or revoked?

Anyone (an employer, say) asks by the certificate number and the holder's name, or by
the number and the code printed in the certificate's QR code. The answer shows as
little personal data as it can: a masked name, never the ID number. Failed checks are
counted per client address, so numbers and names cannot be guessed in bulk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date, timedelta
from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool

from services.certificates.domain import Certificate
from services.common.errors import TooManyAttempts
from services.common.workdays import BEIJING

CODE_LENGTH = 16
# Failed checks one address may make in the window before it must wait.
FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)


class Status:
    VALID = "valid"
    REISSUED = "reissued"  # replaced by a reissue: earlier copies are void
    REVOKED = "revoked"


def verification_code(key: bytes, certificate_number: str) -> str:
    """The code in the QR link: proves the link came from the certificate itself."""
    message = b"verification:" + certificate_number.encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:CODE_LENGTH].lower()


def code_matches(key: bytes, certificate_number: str, code: str) -> bool:
    expected = verification_code(key, certificate_number)
    return hmac.compare_digest(expected, code.strip().lower())


def name_matches(certificate: Certificate, name: str) -> bool:
    return " ".join(name.split()) == " ".join(certificate.holder_name.split())


def masked_name(name: str) -> str:
    """古丽 → 古*, 阿依古丽·买买提 → 阿******提: enough to compare with a document."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def answer(certificate: Certificate, reissued_on: date | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "certificate_number": certificate.certificate_number,
        "holder_name": masked_name(certificate.holder_name),
        "qualification": {
            "name": certificate.qualification_name,
            "level": certificate.level,
            "specialty": certificate.specialty,
        },
        "kind": certificate.kind,
        "exam_end_date": certificate.exam_end_date.isoformat(),
    }
    if certificate.is_revoked:
        revoked_on = certificate.revoked_at.astimezone(BEIJING).date()
        return {
            **body,
            "status": Status.REVOKED,
            "revoked_on": revoked_on.isoformat(),
            "reason": certificate.revocation_reason,
            "notice": f"该证书已于 {revoked_on.isoformat()} 注销，不再有效。",
        }
    if reissued_on is not None:
        return {
            **body,
            "status": Status.REISSUED,
            "reissued_on": reissued_on.isoformat(),
            "notice": (
                f"该证书已于 {reissued_on.isoformat()} 补发；补发的证书有效，"
                "此前制发的原证书作废。"
            ),
        }
    return {**body, "status": Status.VALID, "notice": "该证书真实有效。"}


class VerificationAttempts:
    """Failed verification checks per client address, in the read schema."""

    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self.schema = schema

    def setup(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                self._sql(
                    """
                    CREATE TABLE IF NOT EXISTS {schema}.verification_failures (
                        address text NOT NULL,
                        failed_at timestamptz NOT NULL DEFAULT now());
                    CREATE INDEX IF NOT EXISTS verification_failures_address
                        ON {schema}.verification_failures (address, failed_at)
                    """
                )
            )

    def check(self, address: str) -> None:
        with self.pool.connection() as conn:
            (failures,) = conn.execute(
                self._sql(
                    "SELECT count(*) FROM {schema}.verification_failures "
                    "WHERE address = %s AND failed_at > now() - %s"
                ),
                (address, FAILURE_WINDOW),
            ).fetchone()
        if failures >= FAILURES_PER_ADDRESS:
            raise TooManyAttempts(
                "too_many_attempts", "查验失败次数过多，请 15 分钟后再试。"
            )

    def record_failure(self, address: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                self._sql(
                    "DELETE FROM {schema}.verification_failures "
                    "WHERE failed_at < now() - %s"
                ),
                (FAILURE_WINDOW,),
            )
            conn.execute(
                self._sql(
                    "INSERT INTO {schema}.verification_failures (address) VALUES (%s)"
                ),
                (address,),
            )

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(schema=sql.Identifier(self.schema))
