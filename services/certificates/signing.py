"""The centre's signing of downloadable electronic certificates.

The signing key and its certificate come from the secrets named by
`XJCERT_ECERT_SIGNING_KEY_FILE` and `XJCERT_ECERT_SIGNING_CERTIFICATE_FILE`; the QR
code on each document points at the public verification page under
`XJCERT_VERIFICATION_URL`, with a code keyed by `XJCERT_LOOKUP_KEY_FILE` that lets the
page answer without the holder's name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from eventlet import tpool
from nameko.extensions import DependencyProvider

from services.certificates.ecert import ElectronicCertificate, SigningIdentity, render
from services.certificates.ecert import sign as sign_pdf
from services.certificates.verification import code_matches, verification_code
from services.common.dependencies import settings_of


class ElectronicCertificates:
    def __init__(
        self, identity: SigningIdentity, verification_url: str, code_key: bytes
    ) -> None:
        self.identity = identity
        self.verification_url = verification_url.rstrip("/")
        self.code_key = code_key

    def document(self, row: dict[str, Any], reissued: bool) -> bytes:
        """The signed PDF of one downloadable certificate from the read model."""
        number = row["certificate_number"]
        certificate = ElectronicCertificate(
            certificate_number=number,
            holder_name=row["holder_name"],
            holder_id_number=row["holder_id_number"],
            qualification_name=row["qualification_name"],
            level=row["level"],
            specialty=row["specialty"],
            exam_end_date=row["exam_end_date"],
            kind=row["kind"],
            authority_signed_at=row["authority_signed_at"],
            centre_signed_at=row["centre_signed_at"],
            reissued=reissued,
            verification_url=self.link(number),
        )
        # pyhanko runs an asyncio loop of its own, which eventlet's green threads
        # would interleave: sign in a real thread.
        return tpool.execute(_signed_document, certificate, self.identity)

    def link(self, number: str) -> str:
        """The verification page of one certificate, as its QR code carries it."""
        code = verification_code(self.code_key, number)
        return f"{self.verification_url}?number={quote(number)}&code={code}"

    def vouches(self, number: str, code: str) -> bool:
        """Whether `code` is the one this certificate's QR link carries."""
        return code_matches(self.code_key, number, code)


def _signed_document(
    certificate: ElectronicCertificate, identity: SigningIdentity
) -> bytes:
    return sign_pdf(render(certificate), identity)


class CentreSigner(DependencyProvider):
    def setup(self) -> None:
        settings = settings_of(self.container)
        identity = SigningIdentity.from_pem(
            settings.secrets.read("ecert_signing_key"),
            settings.secrets.read("ecert_signing_certificate"),
        )
        self.signer = ElectronicCertificates(
            identity, settings.verification_url, settings.secrets.read("lookup_key")
        )

    def get_dependency(self, worker_ctx: Any) -> ElectronicCertificates:
        return self.signer
