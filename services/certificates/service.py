"""The certificates service: thin Nameko entrypoints over the application."""

from __future__ import annotations

import logging
from datetime import datetime

from nameko.web.handlers import http
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Request, Response

from services.certificates.application import CertificatesApplication, publication
from services.certificates.presentation import present
from services.certificates.read_model import ApplicantCertificates
from services.certificates.results import read_results
from services.common.consuming import fact_handler
from services.common.dependencies import (
    CallContext,
    EventStore,
    ReadModel,
    ServiceSettings,
)
from services.common.envelope import ContractViolation, Envelope
from services.common.web import (
    HttpError,
    applicant_id_number,
    error_response,
    json_response,
)
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
        outcome = self.read_model.handle(envelope)
        log.debug("%s %s: %s", envelope.type, envelope.event_id, outcome.value)
        return outcome.value

    @http("GET", "/v1/me/certificates")
    def my_certificates(self, request: Request) -> Response:
        try:
            id_number = applicant_id_number(request, self.settings)
        except HttpError as error:
            return error_response(error)
        rows = self.read_model.certificates_of(id_number)
        return json_response(present(rows, datetime.now(BEIJING).date()))

    @http("GET", "/metrics")
    def metrics(self, request: Request) -> Response:
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)
