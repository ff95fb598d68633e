"""The reissue service: applications, review, the ministry's batches, the sync."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.persistence import IntegrityError
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import Counter, Gauge
from werkzeug.wrappers import Request, Response

from services.common.accounts import VerifiedAccounts
from services.common.auth import Role
from services.common.consuming import fact_handler
from services.common.dependencies import (
    CallContext,
    EventStore,
    ReadModel,
    Schedule,
    ServiceSettings,
    settings_of,
)
from services.common.envelope import (
    ContractViolation,
    Envelope,
    calendar_datetime,
)
from services.common.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from services.common.health import Health, Readiness, not_ready_message
from services.common.schedule import ScheduledJobs
from services.common.session_ends import EndedSessions, SessionEndsRecord
from services.common.web import (
    PUBLIC,
    api,
    caller_of,
    json_body,
    json_response,
    metrics_response,
)
from services.common.workdays import BEIJING, WorkingCalendar
from services.reissue import bodies
from services.reissue.application import ReissueApplication, UnknownBatch
from services.reissue.domain import (
    REVIEW_WORKING_DAYS,
    SYNC_WORKING_DAYS,
    Reason,
)
from services.reissue.eligibility import check_eligible, check_reason
from services.reissue.materials import (
    DOCUMENT_MAX_BYTES,
    TYPES_IN_WORDS,
    Material,
    check,
)
from services.reissue.presentation import (
    EXPECTED_WAIT,
    application_detail,
    application_summary,
    queue_row,
    sync_row,
)
from services.reissue.publication import publication
from services.reissue.storage import MaterialStore, StorageSettings, material_store
from services.reissue.views import ApplicationViews, KnownCertificates, KnownCustody

log = logging.getLogger(__name__)

# Timers tick often and cheaply; the scheduled job itself runs once per period.
TICK_SECONDS = 5
BATCH_CHECK_EVERY = timedelta(minutes=10)

MATERIAL_CODES = tuple(material.value for material in Material)
# A month of a calendar year: there is no year 0000, so no batch closes in it.
PERIOD = re.compile(r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$")

SUBMISSIONS = Counter(
    "reissue_submissions_total", "Reissue applications submitted or resubmitted."
)
REVIEWS_OVERDUE = Gauge(
    "reissue_reviews_overdue",
    "Submitted applications past their 3-working-day review deadline.",
)
SYNCS_OVERDUE = Gauge(
    "reissue_syncs_overdue",
    "Arrived reissued certificates not synced within 5 working days.",
)
UNKNOWN_ENTRIES = Counter(
    "reissue_batch_unknown_entries_total",
    "Certificates named in a ministry batch_arrived that the batch never held.",
)


class ReissueStore(EventStore):
    def __init__(self) -> None:
        super().__init__(ReissueApplication, publication)

    def setup(self) -> None:
        super().setup()
        settings = settings_of(self.container)
        self.app.calendar = WorkingCalendar.for_settings(settings_of(self.container))
        self.app.batch_closing_day = settings.batch_closing_day


class Materials(DependencyProvider):
    """Where uploaded files are kept: a local directory, or S3-compatible storage."""

    def setup(self) -> None:
        self.store = material_store(StorageSettings.from_environ(os.environ))

    def get_dependency(self, worker_ctx: Any) -> MaterialStore:
        return self.store


class ReissueService:
    name = "reissue"

    call_context = CallContext()
    health: Health = Readiness()
    settings = ServiceSettings()
    app: ReissueApplication = ReissueStore()
    materials: MaterialStore = Materials()
    views: ApplicationViews = ReadModel(ApplicationViews)
    certificates: KnownCertificates = ReadModel(KnownCertificates)
    custody: KnownCustody = ReadModel(KnownCustody)
    accounts: VerifiedAccounts = ReadModel(VerifiedAccounts)
    jobs: ScheduledJobs = Schedule()

    ended_sessions: EndedSessions = SessionEndsRecord()

    # --- facts from elsewhere -------------------------------------------------------

    @fact_handler("reissue.sessions", expected_exceptions=ContractViolation)
    def end_sessions(self, envelope: Envelope) -> str:
        """From identity: refuse the access tokens of these sessions from now on."""
        return self.ended_sessions.record(envelope)

    @fact_handler("reissue.certificates", expected_exceptions=ContractViolation)
    def know_certificate(self, envelope: Envelope) -> str:
        return self.certificates.handle(envelope).value

    @fact_handler("reissue.custody", expected_exceptions=ContractViolation)
    def know_custody(self, envelope: Envelope) -> str:
        return self.custody.handle(envelope).value

    @fact_handler("reissue.accounts", expected_exceptions=ContractViolation)
    def link_verified_account(self, envelope: Envelope) -> str:
        return self.accounts.handle(envelope).value

    @fact_handler("reissue.views", expected_exceptions=ContractViolation)
    def project(self, envelope: Envelope) -> str:
        return self.views.handle(envelope).value

    @fact_handler("reissue.ministry_batches", expected_exceptions=ContractViolation)
    def batch_arrived(self, envelope: Envelope) -> str:
        """The ministry's reissued certificates reached Xinjiang: 5 days to sync."""
        data = envelope.data
        try:
            arrival = self.app.record_arrival(
                data["batch"],
                envelope.event_id,
                calendar_datetime(data["arrived_at"], "data.arrived_at"),
                [entry["certificate_number"] for entry in data["certificates"]],
            )
        except UnknownBatch as error:
            raise ContractViolation(
                "unknown_batch",
                f"no closed ministry batch for period {error.period}; "
                "check the batch reference with the ministry",
            ) from None
        if arrival.duplicate:
            return "duplicate"
        if arrival.unknown:
            UNKNOWN_ENTRIES.inc(len(arrival.unknown))
            log.warning(
                "ministry batch %s named %s certificate(s) it never held; "
                "see GET /v1/admin/reissue/batches/%s",
                arrival.period,
                len(arrival.unknown),
                arrival.period,
            )
        log.info(
            "ministry batch %s: %s arrived, %s already arrived, sync due %s",
            arrival.period,
            len(arrival.recorded),
            len(arrival.already_arrived),
            arrival.sync_due,
        )
        return "applied" if arrival.recorded else "nothing_new"

    # --- holders --------------------------------------------------------------------

    @api("GET", "/v1/reissue/terms", roles=PUBLIC)
    def terms(self, request: Request) -> dict:
        return {
            "reasons": list(Reason.ALL),
            "materials": [
                {
                    "material": material.value,
                    "title": material.label,
                    "required": material.required,
                    "accepted": TYPES_IN_WORDS[material.accepted_types],
                    "max_bytes": material.max_bytes,
                }
                for material in Material
            ],
            "review_within_working_days": REVIEW_WORKING_DAYS,
            "sync_within_working_days": SYNC_WORKING_DAYS,
            "national_expected_wait": EXPECTED_WAIT,
        }

    @api("POST", "/v1/reissue/applications", roles={Role.APPLICANT})
    def start(self, request: Request) -> Response:
        body = json_body(request, bodies.START)
        caller = caller_of(request)
        reason = check_reason(body["reason"])
        certificate = check_eligible(
            self.certificates.by_number(body["certificate_number"].strip()),
            self._id_number(caller.account_id),
            reason,
            _now().date(),
        )
        application = self.app.start(caller.account_id, certificate, reason)
        log.info("reissue application %s started", application.id)
        return json_response(application_detail(application, [], staff=False), 201)

    @api("GET", "/v1/me/reissue/applications", roles={Role.APPLICANT})
    def mine(self, request: Request) -> dict:
        rows = self.views.of_account(caller_of(request).account_id)
        return {"applications": [application_summary(row) for row in rows]}

    @api(
        "GET", "/v1/reissue/applications/<uuid:application_id>", roles={Role.APPLICANT}
    )
    def show(self, request: Request, application_id: uuid.UUID) -> dict:
        application = self.app.application_of(
            caller_of(request).account_id, application_id
        )
        history = self.app.history(application_id)
        return application_detail(application, history, staff=False)

    @api(
        "PUT",
        "/v1/reissue/applications/<uuid:application_id>/reason",
        roles={Role.APPLICANT},
    )
    def change_reason(self, request: Request, application_id: uuid.UUID) -> Response:
        body = json_body(request, bodies.REASON)
        caller = caller_of(request)
        application = self.app.application_of(caller.account_id, application_id)
        reason = check_reason(body["reason"])
        check_eligible(
            self.certificates.by_number(application.certificate_number),
            self._id_number(caller.account_id),
            reason,
            _now().date(),
        )
        self.app.change_reason(caller.account_id, application_id, reason)
        return Response(status=204)

    @api(
        "PUT",
        "/v1/reissue/applications/<uuid:application_id>/materials/<material>",
        roles={Role.APPLICANT},
    )
    def upload(
        self, request: Request, application_id: uuid.UUID, material: str
    ) -> dict:
        caller = caller_of(request)
        _known_material(material)
        # Ownership and editability first: nothing is stored for a refused upload.
        self.app.editable(caller.account_id, application_id)
        content = _upload(request)
        checked = check(material, content)
        digest = self.materials.put(content)
        self.app.attach(
            caller.account_id,
            application_id,
            material,
            digest,
            checked.content_type,
            checked.size,
        )
        return {
            "material": material,
            "content_type": checked.content_type,
            "size": checked.size,
            "digest": digest,
        }

    @api(
        "GET",
        "/v1/reissue/applications/<uuid:application_id>/materials/<material>",
        roles={Role.APPLICANT},
    )
    def holder_download(
        self, request: Request, application_id: uuid.UUID, material: str
    ) -> Response:
        application = self.app.application_of(
            caller_of(request).account_id, application_id
        )
        return self._material_file(application, material)

    @api(
        "DELETE",
        "/v1/reissue/applications/<uuid:application_id>/materials/<material>",
        roles={Role.APPLICANT},
    )
    def remove(
        self, request: Request, application_id: uuid.UUID, material: str
    ) -> Response:
        _known_material(material)
        self.app.remove(caller_of(request).account_id, application_id, material)
        return Response(status=204)

    @api(
        "POST",
        "/v1/reissue/applications/<uuid:application_id>/submit",
        roles={Role.APPLICANT},
    )
    def submit(self, request: Request, application_id: uuid.UUID) -> dict:
        review_due = self.app.submit(
            caller_of(request).account_id, application_id, _now()
        )
        SUBMISSIONS.inc()
        return {"state": "submitted", "review_due": review_due.isoformat()}

    @api(
        "POST",
        "/v1/reissue/applications/<uuid:application_id>/withdraw",
        roles={Role.APPLICANT},
    )
    def withdraw(self, request: Request, application_id: uuid.UUID) -> Response:
        self.app.withdraw(caller_of(request).account_id, application_id, _now())
        return Response(status=204)

    # --- reviewers ------------------------------------------------------------------

    @api("GET", "/v1/review/applications", roles={Role.REVIEWER})
    def review_queue(self, request: Request) -> dict:
        calendar = self.app.calendar
        today = _now().date()
        rows = [queue_row(r, calendar, today) for r in self.views.waiting_for_review()]
        REVIEWS_OVERDUE.set(sum(row["overdue"] for row in rows))
        return {"applications": rows}

    @api("GET", "/v1/review/applications/<uuid:application_id>", roles={Role.REVIEWER})
    def review_show(self, request: Request, application_id: uuid.UUID) -> dict:
        application = self.app.application(application_id)
        history = self.app.history(application_id)
        return application_detail(application, history, staff=True)

    @api(
        "GET",
        "/v1/review/applications/<uuid:application_id>/materials/<material>",
        roles={Role.REVIEWER},
    )
    def review_download(
        self, request: Request, application_id: uuid.UUID, material: str
    ) -> Response:
        return self._material_file(self.app.application(application_id), material)

    @api(
        "POST",
        "/v1/review/applications/<uuid:application_id>/return",
        roles={Role.REVIEWER},
    )
    def return_to_holder(self, request: Request, application_id: uuid.UUID) -> dict:
        body = json_body(request, bodies.RETURN)
        message = body["message"].strip()
        if not message:
            raise Invalid("message_required", "退回时请写明需要申请人修改的内容。")
        self.app.return_to_holder(
            caller_of(request).account_id,
            application_id,
            message,
            list(dict.fromkeys(body.get("problems", []))),
            _now(),
        )
        log.info("reissue application %s returned to the holder", application_id)
        return {"state": "returned"}

    @api(
        "POST",
        "/v1/review/applications/<uuid:application_id>/approve",
        roles={Role.REVIEWER},
    )
    def approve(self, request: Request, application_id: uuid.UUID) -> dict:
        application = self.app.application(application_id)
        known = self.certificates.by_number(application.certificate_number)
        if known is not None and known["revoked"]:
            raise Conflict(
                "certificate_revoked",
                "这本证书已注销，不能批准补办；请退回申请并说明原因。",
            )
        period = self.app.approve(caller_of(request).account_id, application_id, _now())
        log.info("reissue application %s approved", application_id)
        if period is None:
            return {"state": "approved"}
        return {"state": "in_batch", "batch": period}

    # --- batches and the sync -------------------------------------------------------

    @api(
        "POST",
        "/v1/admin/reissue/batches/<period>/close",
        roles={Role.ADMINISTRATOR},
    )
    def close_batch(self, request: Request, period: str) -> dict:
        batch = self.app.close_batch(_period(period), _now())
        return _batch(batch)

    @api(
        "GET",
        "/v1/admin/reissue/batches/<period>",
        roles={Role.ADMINISTRATOR},
    )
    def show_batch(self, request: Request, period: str) -> dict:
        return _batch(self.app.batch(_period(period)))

    @api(
        "GET",
        "/v1/admin/reissue/batches/<period>/export",
        roles={Role.ADMINISTRATOR},
    )
    def export_batch(self, request: Request, period: str) -> Response:
        batch = self.app.batch(_period(period))
        if batch.is_open:
            raise Invalid("batch_open", "批次尚未截止，截止后才能导出。")
        return Response(
            _csv(batch.export),
            mimetype="text/csv",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="reissue-batch-{batch.period}.csv"'
                )
            },
        )

    @api(
        "GET",
        "/v1/staff/reissue/syncs",
        roles={Role.REVIEWER, Role.ADMINISTRATOR},
    )
    def syncs(self, request: Request) -> dict:
        calendar = self.app.calendar
        today = _now().date()
        rows = [sync_row(r, calendar, today) for r in self.views.waiting_for_sync()]
        SYNCS_OVERDUE.set(sum(row["overdue"] for row in rows))
        return {"certificates": rows}

    @api(
        "POST",
        "/v1/staff/reissue/syncs",
        roles={Role.REVIEWER, Role.ADMINISTRATOR},
    )
    def sync(self, request: Request) -> dict:
        body = json_body(request, bodies.SYNC)
        ids = [uuid.UUID(raw) for raw in body["application_ids"]]
        synced = self.app.sync(caller_of(request).account_id, ids, _now())
        log.info("%s reissued certificate(s) synced", len(synced))
        return {"synced": synced}

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

    @timer(interval=TICK_SECONDS, eager=True)
    def close_due_batches(self) -> None:
        """Close each month's batch the day after its closing day.

        Every replica ticks; one of them closes the batches of each period.
        """
        if not self.jobs.claim("close_due_batches", BATCH_CHECK_EVERY):
            return
        now = _now()
        for period in self.app.batches_due(now.date()):
            try:
                self.app.close_batch(period, now)
            except IntegrityError:
                # Another replica closed it at the same moment: closed once.
                log.info("ministry batch %s was closed by another replica", period)

    @timer(interval=30, eager=True)
    def count_overdue(self) -> None:
        """Every replica keeps its gauges current: the alerts read the highest."""
        today = _now().date()
        REVIEWS_OVERDUE.set(self.views.overdue_reviews(today))
        SYNCS_OVERDUE.set(self.views.overdue_syncs(today))

    # --- helpers --------------------------------------------------------------------

    def _id_number(self, account_id: uuid.UUID) -> str:
        id_number = self.accounts.id_number_of(account_id)
        if id_number is None:
            raise Forbidden("real_name_required", "请先完成实名认证，再申请补办。")
        return id_number

    def _material_file(self, application: Any, material: str) -> Response:
        _known_material(material)
        held = application.materials.get(material)
        if held is None:
            raise NotFound("material_not_uploaded", "这项材料尚未上传。")
        content = self.materials.get(held["digest"])
        return Response(
            content,
            mimetype=held["content_type"],
            headers={"Cache-Control": "private, no-store"},
        )


def _now() -> datetime:
    return datetime.now(BEIJING)


def _known_material(material: str) -> None:
    if material not in MATERIAL_CODES:
        allowed = "、".join(MATERIAL_CODES)
        raise NotFound(
            "unknown_material", f"没有这一类补办材料，材料只能是：{allowed}。"
        )


def _upload(request: Request) -> bytes:
    length = request.content_length
    if length is not None and length > DOCUMENT_MAX_BYTES:
        raise Invalid(
            "file_too_large",
            f"文件不能超过 {DOCUMENT_MAX_BYTES // (1024 * 1024)} MB。",
        )
    return request.stream.read(DOCUMENT_MAX_BYTES + 1)


def _period(raw: str) -> str:
    if not PERIOD.match(raw):
        raise Invalid("invalid_period", "批次应写成年月，例如 2026-12。")
    return raw


def _batch(batch: Any) -> dict[str, Any]:
    return {
        "period": batch.period,
        "state": batch.state,
        "closes_on": batch.closes_on.isoformat(),
        "entries": len(batch.entries),
        "arrived": len(batch.arrived),
        "unknown_certificate_numbers": batch.unknown,
    }


EXPORT_COLUMNS = (
    "certificate_number",
    "holder_name",
    "holder_id_number",
    "qualification_name",
    "level",
    "reason",
    "application_id",
)


def _csv(entries: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow({column: entry[column] for column in EXPORT_COLUMNS})
    # With a byte-order mark, spreadsheet programs read the Chinese correctly.
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
