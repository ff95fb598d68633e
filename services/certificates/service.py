"""The certificates service: thin Nameko entrypoints over the application."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import Counter, Gauge
from werkzeug.wrappers import Request, Response

from services.certificates import verification
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
from services.certificates.verification import VerificationAttempts
from services.common.accounts import VerifiedAccounts
from services.common.auth import Role
from services.common.consuming import fact_handler
from services.common.dependencies import (
    CallContext,
    EventStore,
    ReadModel,
    ReadPool,
    ServiceSettings,
    in_read_schema,
    settings_of,
)
from services.common.envelope import (
    ContractViolation,
    Envelope,
    calendar_datetime,
)
from services.common.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Refusal,
    Unavailable,
)
from services.common.health import Health, Readiness, not_ready_message
from services.common.session_ends import EndedSessions, SessionEndsRecord
from services.common.web import PUBLIC, api, caller_of, json_body, metrics_response
from services.common.workdays import BEIJING, WorkingCalendar

log = logging.getLogger(__name__)


SIGNATURES_OVERDUE = Gauge(
    "certificates_centre_signatures_overdue",
    "Industry-signed e-certificates the centre has not signed within 3 working days.",
)


REVOKE = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
    "additionalProperties": False,
}
SIGNING_POLICY = {
    "type": "object",
    "required": ["automatic"],
    "properties": {"automatic": {"type": "boolean"}},
    "additionalProperties": False,
}


PRINTED_UNKNOWN = Counter(
    "certificates_printed_unknown_total",
    "Certificates in a ministry printed batch that are not national paper "
    "certificates on record.",
)


VERIFICATION_BODY = {
    "type": "object",
    "required": ["number"],
    "properties": {
        "number": {"type": "string", "maxLength": 64},
        "name": {"type": "string", "maxLength": 64},
        "code": {"type": "string", "maxLength": 128},
    },
    "additionalProperties": False,
}


class Attempts(DependencyProvider):
    """Failed verification checks, in the service's read schema."""

    read_pool = ReadPool()

    def setup(self) -> None:
        self.attempts = in_read_schema(self, VerificationAttempts)

    def get_dependency(self, worker_ctx: Any) -> VerificationAttempts:
        return self.attempts


class CertificatesStore(EventStore):
    def __init__(self) -> None:
        super().__init__(CertificatesApplication, publication)

    def setup(self) -> None:
        super().setup()
        self.app.calendar = WorkingCalendar.for_settings(settings_of(self.container))


class CertificatesService:
    name = "certificates"

    call_context = CallContext()
    health: Health = Readiness()
    settings = ServiceSettings()
    certificates: CertificatesApplication = CertificatesStore()
    read_model: ApplicantCertificates = ReadModel(ApplicantCertificates)
    accounts: VerifiedAccounts = ReadModel(VerifiedAccounts)
    custody: CertificateCustody = ReadModel(CertificateCustody)
    reissues: CertificateReissues = ReadModel(CertificateReissues)
    signer: ElectronicCertificates = CentreSigner()
    attempts: VerificationAttempts = Attempts()
    ended_sessions: EndedSessions = SessionEndsRecord()

    @fact_handler("certificates.sessions", expected_exceptions=ContractViolation)
    def end_sessions(self, envelope: Envelope) -> str:
        """From identity: refuse the access tokens of these sessions from now on."""
        return self.ended_sessions.record(envelope)

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

    @fact_handler("certificates.printed", expected_exceptions=ContractViolation)
    def record_printed_certificates(self, envelope: Envelope) -> str:
        """The ministry's printed national certificates reached the centre."""
        data = envelope.data
        report = self.certificates.record_printed(
            data["batch"],
            calendar_datetime(data["arrived_at"], "data.arrived_at"),
            [entry["certificate_number"] for entry in data["certificates"]],
        )
        if report.unknown:
            PRINTED_UNKNOWN.inc(len(report.unknown))
            log.warning(
                "printed batch %s named %s certificate(s) that are not national paper "
                "certificates on record",
                data["batch"],
                len(report.unknown),
            )
        log.info(
            "printed batch %s: %s recorded, %s already on record",
            data["batch"],
            report.recorded,
            report.already_recorded,
        )
        return "applied" if report.recorded else "duplicate"

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
        if row["state"] == State.REVOKED:
            raise Conflict("certificate_revoked", "这本证书已注销，不能下载。")
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

    @api(
        "POST",
        "/v1/admin/certificates/<certificate_number>/revoke",
        roles={Role.ADMINISTRATOR},
    )
    def revoke(self, request: Request, certificate_number: str) -> dict:
        """Revoked at once: verification answers from the event store itself."""
        body = json_body(request, REVOKE)
        reason = body["reason"].strip()
        if not reason:
            raise Invalid("reason_required", "注销证书须写明原因。")
        certificate = self.certificates.revoke(
            certificate_number,
            caller_of(request).account_id,
            reason,
            datetime.now(BEIJING),
        )
        log.info("a certificate was revoked")
        return {
            "certificate_number": certificate.certificate_number,
            "revoked_at": certificate.revoked_at.astimezone(BEIJING).isoformat(),
        }

    @api("GET", "/v1/admin/ecert-signing", roles={Role.ADMINISTRATOR})
    def signing_policy(self, request: Request) -> dict:
        return {"automatic": self.certificates.automatic_signing()}

    @api("PUT", "/v1/admin/ecert-signing", roles={Role.ADMINISTRATOR})
    def set_signing_policy(self, request: Request) -> dict:
        """Turn the automatic signer on or off; recorded with who and when."""
        body = json_body(request, SIGNING_POLICY)
        self.certificates.set_automatic_signing(
            body["automatic"], caller_of(request).account_id, datetime.now(BEIJING)
        )
        return {"automatic": body["automatic"]}

    # --- anyone ---------------------------------------------------------------------

    @api("GET", "/v1/verification", roles=PUBLIC)
    def verify(self, request: Request) -> dict:
        """查验: by number and the holder's name, or by number and QR code."""
        args = request.args
        return self._verify(
            request, args.get("number", ""), args.get("name", ""), args.get("code", "")
        )

    @api("POST", "/v1/verification", roles=PUBLIC)
    def verify_posted(self, request: Request) -> dict:
        """查验 with the name in the body, kept out of addresses and logs."""
        body = json_body(request, VERIFICATION_BODY)
        return self._verify(
            request, body["number"], body.get("name", ""), body.get("code", "")
        )

    def _verify(self, request: Request, number: str, name: str, code: str) -> dict:
        number = number.strip()
        if not number or not (name.strip() or code.strip()):
            raise Invalid(
                "invalid_request",
                "请提供证书编号，以及持证人姓名或证书二维码中的查验码。",
            )
        address = request.remote_addr or "unknown"
        self.attempts.check(address)
        certificate = self.certificates.find(number)
        if certificate is None or not self._vouched(certificate, name, code):
            self.attempts.record_failure(address)
            raise NotFound(
                "certificate_not_found",
                "没有查到与证书编号和姓名（或查验码）相符的证书，请核对后再试。",
            )
        reissued_on = self.reissues.reissued_on(str(certificate.id))
        return verification.answer(certificate, reissued_on)

    @api("GET", "/metrics", roles=PUBLIC)
    def metrics(self, request: Request) -> Response:
        return metrics_response()

    @api("GET", "/health/live", roles=PUBLIC)
    def live(self, request: Request) -> dict:
        """The process answers; Kubernetes restarts it when this stops."""
        return {"status": "live"}

    @api("GET", "/health/ready", roles=PUBLIC)
    def ready(self, request: Request) -> dict:
        """Ready while the database and the broker answer; else out of rotation."""
        if unreachable := self.health.unreachable():
            raise Unavailable("not_ready", not_ready_message(unreachable))
        return {"status": "ready"}

    # --- timers ---------------------------------------------------------------------

    @timer(interval=5)
    def sign_automatically(self) -> None:
        """When the administrator turned it on, the automatic signer signs."""
        if not self.certificates.automatic_signing():
            return
        for row in self.read_model.awaiting_centre_signature():
            try:
                self.certificates.sign_by_centre(
                    row["certificate_number"], None, datetime.now(BEIJING)
                )
            except (Refusal, IntegrityError):
                # Revoked since the list was read, or signed by another replica:
                # the next round sees it as it is now; the others go on.
                log.warning("the automatic signer skipped a certificate this round")
                continue
            log.info("electronic certificate signed by the automatic signer")

    # --- helpers --------------------------------------------------------------------

    def _vouched(self, certificate: Any, name: str, code: str) -> bool:
        if code.strip():
            # The key was read once at start-up, with the signer that makes the links.
            return self.signer.vouches(certificate.certificate_number, code)
        return verification.name_matches(certificate, name)

    def _authority_signed(self, envelope: Envelope, authority: str) -> str:
        data = envelope.data
        try:
            recorded = self.certificates.record_authority_signature(
                data["certificate_number"],
                authority,
                calendar_datetime(data["signed_at"], "data.signed_at"),
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
