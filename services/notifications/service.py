"""The notifications service: tells holders and staff what happened and what to do
next, and watches every committed deadline."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import Gauge
from werkzeug.wrappers import Request, Response

from services.common.auth import Role
from services.common.consuming import fact_handler
from services.common.dependencies import (
    CallContext,
    EventStore,
    ReadModel,
    ReadPool,
    Schedule,
    ServiceSettings,
    settings_of,
)
from services.common.envelope import ContractViolation, Envelope
from services.common.errors import Invalid, NotFound, Unavailable
from services.common.health import Health, Readiness, not_ready_message
from services.common.schedule import ScheduledJobs
from services.common.session_ends import EndedSessions, SessionEndsRecord
from services.common.settings import Settings
from services.common.web import PUBLIC, api, caller_of, json_body, metrics_response
from services.common.workdays import BEIJING, WorkingCalendar
from services.notifications.application import NotificationsApplication
from services.notifications.channels import SmsGateway, SmtpMailer
from services.notifications.deadlines import COMMITMENTS, DeadlineKind
from services.notifications.dispatch import Dispatcher
from services.notifications.publication import publication
from services.notifications.templates import Templates
from services.notifications.views import (
    CertificateFacts,
    DistributionFacts,
    NoticeQueries,
    Notices,
    OwnFacts,
    Recipients,
    ReissueFacts,
)

log = logging.getLogger(__name__)

SCHEMA = "notifications_read"

DEADLINES_OVERDUE = Gauge(
    "deadlines_overdue",
    "Committed deadlines whose last working day has ended unmet.",
    ["kind"],
)

CHANNELS_BODY = {
    "type": "object",
    "required": ["sms", "email"],
    "properties": {
        "sms": {"type": "boolean"},
        "email": {
            "type": ["string", "null"],
            "maxLength": 254,
            "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        },
    },
    "additionalProperties": False,
}


def templates_for(settings: Settings) -> Templates:
    path = settings.notifications.templates_file
    return Templates.from_file(path) if path else Templates.default()


def senders_for(settings: Settings) -> tuple[SmsGateway | None, SmtpMailer | None]:
    notify = settings.notifications
    sms = mailer = None
    if notify.sms_gateway_url:
        sms = SmsGateway(
            notify.sms_gateway_url,
            notify.sms_gateway_username,
            settings.secrets.text("sms_gateway_password"),
        )
    if notify.smtp_host:
        mailer = SmtpMailer(
            notify.smtp_host,
            notify.smtp_port,
            notify.smtp_sender,
            notify.smtp_username,
            settings.secrets.text("smtp_password") if notify.smtp_username else None,
            notify.smtp_starttls,
        )
    return sms, mailer


class NoticeModel(ReadModel):
    """A read model that tells people things: it needs the templates, the
    channels configured here and the reminder hour."""

    def setup(self) -> None:
        super().setup()
        settings = settings_of(self.container)
        projection: Notices = self.projection
        projection.templates = templates_for(settings)
        projection.reminder_hour = settings.notifications.appointment_reminder_hour
        projection.calendar = WorkingCalendar.for_settings(settings)
        sms, mailer = senders_for(settings)
        projection.channels = frozenset(
            name for name, sender in (("sms", sms), ("email", mailer)) if sender
        )


class Outbox(DependencyProvider):
    """Sends pending deliveries through the channels configured here."""

    read_pool = ReadPool()

    def setup(self) -> None:
        settings = settings_of(self.container)
        sms, mailer = senders_for(settings)
        self.dispatcher = Dispatcher(
            self.read_pool.pool, SCHEMA, settings.notifications, sms, mailer
        )

    def get_dependency(self, worker_ctx: Any) -> Dispatcher:
        return self.dispatcher


class NotificationsService:
    name = "notifications"

    call_context = CallContext()
    health: Health = Readiness()
    settings = ServiceSettings()
    app: NotificationsApplication = EventStore(NotificationsApplication, publication)
    recipients: Recipients = NoticeModel(Recipients)
    own_facts: OwnFacts = NoticeModel(OwnFacts)
    certificate_facts: CertificateFacts = NoticeModel(CertificateFacts)
    distribution_facts: DistributionFacts = NoticeModel(DistributionFacts)
    reissue_facts: ReissueFacts = NoticeModel(ReissueFacts)
    queries: NoticeQueries = NoticeModel(NoticeQueries)
    outbox: Dispatcher = Outbox()
    jobs: ScheduledJobs = Schedule()

    ended_sessions: EndedSessions = SessionEndsRecord()

    # --- facts ----------------------------------------------------------------------

    @fact_handler("notifications.sessions", expected_exceptions=ContractViolation)
    def end_sessions(self, envelope: Envelope) -> str:
        """From identity: refuse the access tokens of these sessions from now on."""
        return self.ended_sessions.record(envelope)

    @fact_handler("notifications.accounts", expected_exceptions=ContractViolation)
    def know_recipient(self, envelope: Envelope) -> str:
        return self.recipients.handle(envelope).value

    @fact_handler("notifications.views", expected_exceptions=ContractViolation)
    def follow_own_facts(self, envelope: Envelope) -> str:
        return self.own_facts.handle(envelope).value

    @fact_handler("notifications.certificates", expected_exceptions=ContractViolation)
    def follow_certificates(self, envelope: Envelope) -> str:
        return self.certificate_facts.handle(envelope).value

    @fact_handler("notifications.distribution", expected_exceptions=ContractViolation)
    def follow_distribution(self, envelope: Envelope) -> str:
        return self.distribution_facts.handle(envelope).value

    @fact_handler("notifications.reissue", expected_exceptions=ContractViolation)
    def follow_reissue(self, envelope: Envelope) -> str:
        return self.reissue_facts.handle(envelope).value

    # --- holders --------------------------------------------------------------------

    @api("GET", "/v1/me/notices", roles={Role.APPLICANT})
    def my_notices(self, request: Request) -> dict:
        rows = self.queries.inbox(caller_of(request).account_id)
        return {
            "notices": [_notice(row) for row in rows],
            "unread": sum(row["read_at"] is None for row in rows),
        }

    @api("POST", "/v1/me/notices/<uuid:notice>/read", roles={Role.APPLICANT})
    def read_my_notice(self, request: Request, notice: uuid.UUID) -> Response:
        return self._mark_read(request, notice)

    @api("GET", "/v1/me/notification-channels", roles={Role.APPLICANT})
    def my_channels(self, request: Request) -> dict:
        choice = self.app.channels_of(caller_of(request).account_id)
        return self._channels(choice.sms if choice else True, choice and choice.email)

    @api("PUT", "/v1/me/notification-channels", roles={Role.APPLICANT})
    def choose_channels(self, request: Request) -> dict:
        body = json_body(request, CHANNELS_BODY)
        choice = self.app.choose_channels(
            caller_of(request).account_id, body["sms"], body["email"]
        )
        return self._channels(choice.sms, choice.email)

    # --- staff ----------------------------------------------------------------------

    @api("GET", "/v1/staff/notices", roles=Role.STAFF)
    def staff_notices(self, request: Request) -> dict:
        rows = self.queries.staff_notices(caller_of(request).roles & Role.STAFF)
        return {"notices": [_notice(row) for row in rows]}

    @api("POST", "/v1/staff/notices/<uuid:notice>/read", roles=Role.STAFF)
    def read_staff_notice(self, request: Request, notice: uuid.UUID) -> Response:
        return self._mark_read(request, notice)

    @api("GET", "/v1/staff/deadlines", roles=Role.STAFF)
    def open_deadlines(self, request: Request) -> dict:
        kind = request.args.get("kind")
        if kind is not None and kind not in DeadlineKind.__members__.values():
            raise Invalid(
                "unknown_deadline_kind",
                "kind 应为 "
                + "、".join(kind.value for kind in DeadlineKind)
                + " 之一。",
            )
        today = self._today()
        calendar = self._calendar()
        rows = self.queries.open_deadlines(kind)
        return {
            "today": today.isoformat(),
            "deadlines": [_deadline(row, today, calendar) for row in rows],
        }

    @api("GET", "/v1/admin/notifications/deliveries", roles={Role.ADMINISTRATOR})
    def deliveries(self, request: Request) -> dict:
        state = request.args.get("state", "failed")
        if state not in {"pending", "sent", "failed"}:
            raise Invalid("unknown_state", "state 应为 pending、sent 或 failed。")
        return {
            "deliveries": [_delivery(row) for row in self.queries.deliveries(state)]
        }

    # --- operations -----------------------------------------------------------------

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

    # --- scheduled work -------------------------------------------------------------

    @timer(interval=1)
    def send(self) -> None:
        """Every replica sends; each delivery is claimed by one of them."""
        while self.outbox.send_due():
            pass

    @timer(interval=2, eager=True)
    def sweep(self) -> None:
        """Reminders and overdue checks, once per period across replicas."""
        every = timedelta(seconds=self.settings.notifications.sweep_seconds)
        now = self._now()
        if self.jobs.claim("appointment_reminders", every):
            self.queries.send_due_reminders(now)
        if self.jobs.claim("overdue_deadlines", every):
            self._flag_overdue(now)
        # Every replica keeps its gauge current, so that the highest of them,
        # which the alert reads, is never an old count.
        counts = self.queries.overdue_counts(now.date())
        for kind in DeadlineKind:
            DEADLINES_OVERDUE.labels(kind.value).set(counts.get(kind.value, 0))

    def _flag_overdue(self, now: datetime) -> None:
        for row in self.queries.overdue_unflagged(now.date()):
            self.app.flag_overdue(
                row["deadline_id"],
                row["kind"],
                row["subject_id"],
                row["reference"],
                row["due_on"],
                now,
            )

    # --- helpers --------------------------------------------------------------------

    def _mark_read(self, request: Request, notice: uuid.UUID) -> Response:
        caller = caller_of(request)
        if not self.queries.mark_read(notice, caller.account_id, caller.roles):
            raise NotFound("notice_not_found", "没有这条通知。")
        return Response(status=204)

    def _channels(self, sms: bool, email: str | None) -> dict:
        available = self.recipients.channels
        return {
            "inbox": True,
            "sms": sms,
            "email": email,
            "sms_available": "sms" in available,
            "email_available": "email" in available,
        }

    def _now(self) -> datetime:
        return datetime.now(BEIJING) + timedelta(days=self.settings.clock_shift_days)

    def _today(self) -> date:
        return self._now().date()

    def _calendar(self) -> WorkingCalendar:
        return self.certificate_facts.calendar


def _notice(row: dict[str, Any]) -> dict[str, Any]:
    notice = {
        "notice_id": str(row["notice_id"]),
        "kind": row["kind"],
        "title": row["title"],
        "body": row["body"],
        "created_at": row["created_at"].astimezone(BEIJING).isoformat(),
        "read": row["read_at"] is not None,
    }
    if "channels" in row:
        notice["channels"] = row["channels"]
    return notice


def _deadline(
    row: dict[str, Any], today: date, calendar: WorkingCalendar
) -> dict[str, Any]:
    commitment = COMMITMENTS[DeadlineKind(row["kind"])]
    return {
        "deadline_id": str(row["deadline_id"]),
        "kind": row["kind"],
        "label": commitment.label,
        "working_days": commitment.working_days,
        "subject_id": str(row["subject_id"]),
        "reference": row["reference"],
        "started_at": row["started_at"].astimezone(BEIJING).isoformat(),
        "due_on": row["due_on"].isoformat(),
        "working_days_left": calendar.working_days_between(today, row["due_on"]),
        "overdue": today > row["due_on"],
        "flagged": row["overdue_flagged_at"] is not None,
    }


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    # No address or text: operators see that a message failed, not to whom.
    return {
        "notice_id": str(row["notice_id"]),
        "kind": row["kind"],
        "channel": row["channel"],
        "state": row["state"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "next_attempt_at": row["next_attempt_at"].astimezone(BEIJING).isoformat(),
        "sent_at": row["sent_at"] and row["sent_at"].astimezone(BEIJING).isoformat(),
    }
