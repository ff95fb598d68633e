"""The certificates service: thin Nameko entrypoints over the application."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from prometheus_client import Gauge
from werkzeug.wrappers import Request, Response

from services.certificates.application import (
    CertificatesApplication,
    WrongSigner,
    publication,
)
from services.certificates.domain import Authority
from services.certificates.presentation import present
from services.certificates.read_model import (
    ApplicantCertificates,
    CertificateCustody,
    CertificateReissues,
    State,
)
from services.certificates.results import read_results
from services.certificates.signing import CentreSigner, ElectronicCertificates
from services.common.accounts import VerifiedAccounts
from services.common.auth import Role
from services.common.consuming import fact_handler
from services.common.dependencies import (
    CallContext,
    EventStore,
    ReadModel,
    ServiceSettings,
)
from services.common.envelope import ContractViolation, Envelope
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.web import PUBLIC, api, caller_of, metrics_response
from services.common.workdays import BEIJING, WorkingCalendar

log = logging.getLogger(__name__)


SIGNATURES_OVERDUE = Gauge(
    "certificates_centre_signatures_overdue",
    "Industry-signed e-certificates the centre has not signed within 3 working days.",
)


class CertificatesStore(EventStore):
    def __init__(self) -> None:
        super().__init__(CertificatesApplication, publication)

    def setup(self) -> None:
        super().setup()
        self.app.calendar = WorkingCalendar.from_default_file()


class CertificatesService:
    name = "certificates"

    call_context = CallContext()
    settings = ServiceSettings()
    certificates: CertificatesApplication = CertificatesStore()
    read_model: ApplicantCertificates = ReadModel(ApplicantCertificates)
    accounts: VerifiedAccounts = ReadModel(VerifiedAccounts)
    custody: CertificateCustody = ReadModel(CertificateCustody)
    reissues: CertificateReissues = ReadModel(CertificateReissues)
    signer: ElectronicCertificates = CentreSigner()

    @fact_handler("certificates.exam_results", expected_exceptions=ContractViolation)
    def record_exam_results(self, envelope: Envelope) -> None:
        """When an exam's results are published, record each passed candidate."""
        results = read_results(envelope)
        batch_size = self.settings.ingest_batch_size
        report = self.certificates.record_results(results, batch_size)
        log.info(
            "exam session %s: %s certificates recorded, %s already on record",
            results.session.session_id,
            report.recorded,
            report.already_recorded,
        )

    @fact_handler("certificates.read_model", expected_exceptions=ContractViolation)
    def project_certificate(self, envelope: Envelope) -> str:
        """When a certificate fact is published, update its holder's read model."""
        return self.read_model.handle(envelope).value

    @fact_handler("certificates.accounts", expected_exceptions=ContractViolation)
    def link_verified_account(self, envelope: Envelope) -> str:
        """When an account's real name is verified, link it to its certificates."""
        return self.accounts.handle(envelope).value

    @fact_handler("certificates.custody", expected_exceptions=ContractViolation)
    def follow_custody(self, envelope: Envelope) -> str:
        """When distribution moves a paper certificate on, show where it stands."""
        return self.custody.handle(envelope).value

    @fact_handler(
        "certificates.industry_signatures", expected_exceptions=ContractViolation
    )
    def record_industry_signature(self, envelope: Envelope) -> str:
        """The industry authority signed: the centre signs within 3 working days."""
        return self._authority_signed(envelope, Authority.INDUSTRY)

    @fact_handler(
        "certificates.health_signatures", expected_exceptions=ContractViolation
    )
    def record_health_signature(self, envelope: Envelope) -> str:
        """The health commission signed: the holder may download at once."""
        return self._authority_signed(envelope, Authority.HEALTH_COMMISSION)

    @fact_handler("certificates.reissue", expected_exceptions=ContractViolation)
    def follow_reissue(self, envelope: Envelope) -> str:
        """When a reissue application moves on, show the holder where it stands."""
        return self.reissues.handle(envelope).value

    @api("GET", "/v1/me/certificates", roles={Role.APPLICANT})
    def my_certificates(self, request: Request) -> dict:
        id_number = self._id_number(caller_of(request).account_id)
        rows = self.read_model.certificates_of(id_number)
        return present(rows, datetime.now(BEIJING).date())

    @api(
        "GET",
        "/v1/me/certificates/<certificate_number>/ecert",
        roles={Role.APPLICANT},
    )
    def download_ecert(self, request: Request, certificate_number: str) -> Response:
        """The holder's electronic certificate: a PDF the centre signed."""
        id_number = self._id_number(caller_of(request).account_id)
        row = self.read_model.certificate(certificate_number)
        if row is None or row["holder_id_number"] != id_number:
            raise NotFound("certificate_not_found", "您名下没有这个编号的证书。")
        if row["state"] != State.ECERT_DOWNLOADABLE:
            raise Conflict(
                "ecert_not_ready",
                "电子证书尚未签发完成，签发后即可下载。",
            )
        pdf = self.signer.document(row, self.reissues.approved_for(row))
        log.info("electronic certificate downloaded")
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="ecert-{certificate_number}.pdf"'
                ),
                "Cache-Control": "private, no-store",
            },
        )

    # --- staff ----------------------------------------------------------------------

    @api(
        "GET",
        "/v1/staff/ecerts/awaiting-signature",
        roles={Role.REVIEWER, Role.ADMINISTRATOR},
    )
    def awaiting_signature(self, request: Request) -> dict:
        today = datetime.now(BEIJING).date()
        calendar = self.certificates.calendar
        rows = self.read_model.awaiting_centre_signature()
        listed = [
            {
                "certificate_number": row["certificate_number"],
                "qualification_name": row["qualification_name"],
                "level": row["level"],
                "authority_signed_at": row["authority_signed_at"]
                .astimezone(BEIJING)
                .isoformat(),
                "centre_sign_by": row["centre_sign_by"].isoformat(),
                "working_days_left": calendar.working_days_between(
                    today, row["centre_sign_by"]
                ),
                "overdue": today > row["centre_sign_by"],
            }
            for row in rows
        ]
        SIGNATURES_OVERDUE.set(sum(row["overdue"] for row in listed))
        return {"certificates": listed}

    @api(
        "POST",
        "/v1/staff/ecerts/<certificate_number>/sign",
        roles={Role.REVIEWER, Role.ADMINISTRATOR},
    )
    def sign(self, request: Request, certificate_number: str) -> dict:
        """The centre's signature: recorded with who and when."""
        certificate = self.certificates.sign_by_centre(
            certificate_number, caller_of(request).account_id, datetime.now(BEIJING)
        )
        log.info("electronic certificate signed by the centre")
        return {
            "certificate_number": certificate.certificate_number,
            "centre_signed_at": certificate.centre_signed_at.astimezone(
                BEIJING
            ).isoformat(),
        }

    @api("GET", "/metrics", roles=PUBLIC)
    def metrics(self, request: Request) -> Response:
        return metrics_response()

    # --- helpers --------------------------------------------------------------------

    def _authority_signed(self, envelope: Envelope, authority: str) -> str:
        data = envelope.data
        try:
            recorded = self.certificates.record_authority_signature(
                data["certificate_number"],
                authority,
                datetime.fromisoformat(data["signed_at"]),
            )
        except WrongSigner as error:
            raise ContractViolation(
                "wrong_signer",
                f"{error.authority} does not sign {error.kind} certificates",
            ) from None
        return "applied" if recorded else "duplicate"

    def _id_number(self, account_id: Any) -> str:
        id_number = self.accounts.id_number_of(account_id)
        if id_number is None:
            raise Forbidden(
                "real_name_required",
                "请先完成实名认证，再查看您名下的证书。"
                "刚完成认证的，请稍候几秒再刷新。",
            )
        return id_number
