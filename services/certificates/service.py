"""The certificates service: thin Nameko entrypoints over the application."""

from __future__ import annotations

import logging
from datetime import datetime

from werkzeug.wrappers import Request, Response

from services.certificates.application import CertificatesApplication, publication
from services.certificates.presentation import present
from services.certificates.read_model import ApplicantCertificates, CertificateCustody
from services.certificates.results import read_results
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
from services.common.errors import Forbidden
from services.common.web import PUBLIC, api, caller_of, metrics_response
from services.common.workdays import BEIJING

log = logging.getLogger(__name__)


class CertificatesService:
    name = "certificates"

    call_context = CallContext()
    settings = ServiceSettings()
    certificates: CertificatesApplication = EventStore(
        CertificatesApplication, publication
    )
    read_model: ApplicantCertificates = ReadModel(ApplicantCertificates)
    accounts: VerifiedAccounts = ReadModel(VerifiedAccounts)
    custody: CertificateCustody = ReadModel(CertificateCustody)

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

    @api("GET", "/v1/me/certificates", roles={Role.APPLICANT})
    def my_certificates(self, request: Request) -> dict:
        id_number = self.accounts.id_number_of(caller_of(request).account_id)
        if id_number is None:
            raise Forbidden(
                "real_name_required",
                "请先完成实名认证，再查看您名下的证书。"
                "刚完成认证的，请稍候几秒再刷新。",
            )
        rows = self.read_model.certificates_of(id_number)
        return present(rows, datetime.now(BEIJING).date())

    @api("GET", "/metrics", roles=PUBLIC)
    def metrics(self, request: Request) -> Response:
        return metrics_response()
