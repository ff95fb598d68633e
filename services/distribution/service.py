"""The distribution service: pickup bookings, the counter, mail, custody sweeps."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from typing import Any

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
from services.common.envelope import ContractViolation, Envelope
from services.common.errors import Forbidden, Invalid, Unavailable
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
from services.distribution import bodies
from services.distribution.application import (
    MAIL_DEADLINE_WORKING_DAYS,
    DistributionApplication,
)
from services.distribution.domain import REMINDER_DAYS, PickupRules
from services.distribution.publication import publication
from services.distribution.views import DistributionViews

log = logging.getLogger(__name__)

# Timers tick often and cheaply; each sweep itself runs once per period.
TICK_SECONDS = 5
BOOKING_SWEEP_EVERY = timedelta(minutes=1)

BOOKINGS = Counter("distribution_bookings_total", "Pickup bookings made.")
MAIL_OVERDUE = Gauge(
    "distribution_mail_overdue", "Mail requests not shipped by their deadline."
)


class UnknownTracking(Exception):
    """A delivery for a tracking number not (yet) on record.

    Retried like any failure (the shipment may not have reached the views yet), then
    dead-lettered with its reason, for an operator to check and replay.
    """


class DistributionStore(EventStore):
    def __init__(self) -> None:
        super().__init__(DistributionApplication, publication)

    def setup(self) -> None:
        super().setup()
        settings = settings_of(self.container)
        self.app.rules = PickupRules(
            settings.pickup, WorkingCalendar.for_settings(settings)
        )


class DistributionService:
    name = "distribution"

    call_context = CallContext()
    health: Health = Readiness()
    settings = ServiceSettings()
    app: DistributionApplication = DistributionStore()
    views: DistributionViews = ReadModel(DistributionViews)
    accounts: VerifiedAccounts = ReadModel(VerifiedAccounts)
    jobs: ScheduledJobs = Schedule()

    ended_sessions: EndedSessions = SessionEndsRecord()

    # --- facts from elsewhere -------------------------------------------------------

    @fact_handler("distribution.sessions", expected_exceptions=ContractViolation)
    def end_sessions(self, envelope: Envelope) -> str:
        """From identity: refuse the access tokens of these sessions from now on."""
        return self.ended_sessions.record(envelope)

    @fact_handler("distribution.certificates", expected_exceptions=ContractViolation)
    def keep_paper_certificate(self, envelope: Envelope) -> str:
        """When a national paper certificate is on record, keep it until claimed."""
        data = envelope.data
        if data["kind"] != "national_paper" or data["registration_place"] != "xinjiang":
            return "not_kept_here"
        opened = self.app.open_custody(
            uuid.UUID(envelope.aggregate_id),
            data["certificate_number"],
            data["holder_id_number"],
            data["holder_name"],
            date.fromisoformat(data["custody_until"]),
        )
        return "applied" if opened else "duplicate"

    @fact_handler("distribution.reissue", expected_exceptions=ContractViolation)
    def keep_reissued_certificate(self, envelope: Envelope) -> str:
        """When a reissued certificate's data is synced, keep it until claimed."""
        data = envelope.data
        kept = self.app.keep_reissued(
            uuid.UUID(data["certificate_id"]),
            data["certificate_number"],
            data["holder_id_number"],
            data["holder_name"],
            uuid.UUID(envelope.aggregate_id),
            datetime.fromisoformat(data["synced_at"]).astimezone(BEIJING).date(),
        )
        return "applied" if kept else "duplicate"

    @fact_handler("distribution.accounts", expected_exceptions=ContractViolation)
    def link_verified_account(self, envelope: Envelope) -> str:
        return self.accounts.handle(envelope).value

    @fact_handler("distribution.views", expected_exceptions=ContractViolation)
    def project(self, envelope: Envelope) -> str:
        return self.views.handle(envelope).value

    @fact_handler("distribution.postal", expected_exceptions=ContractViolation)
    def record_delivery(self, envelope: Envelope) -> str:
        """When the postal service reports a delivery, the mail order is complete."""
        order_id = self.views.order_with_tracking(envelope.data["tracking_number"])
        if order_id is None:
            raise UnknownTracking("no shipped mail order has this tracking number")
        return "applied" if self.app.deliver(order_id) else "duplicate"

    # --- holders --------------------------------------------------------------------

    @api("GET", "/v1/pickup/windows", roles=Role.ALL)
    def windows(self, request: Request) -> dict:
        now = _now()
        horizon = self.settings.pickup.horizon_days
        asked = _date_arg(request, "from") or now.date()
        days = min(_int_arg(request, "days", 14), horizon + 1)
        # Days already past have no windows left, and a year long past may have no
        # calendar: listing starts today, so it is never asked about them.
        first = max(asked, now.date())
        last_asked = asked.toordinal() + days - 1
        last_allowed = now.date() + timedelta(days=horizon)
        days = max(0, min(last_asked, last_allowed.toordinal()) - first.toordinal() + 1)
        taken = self.views.seats_taken(first, first + timedelta(days=days))
        windows = self.app.open_slots(
            first, days, now, lambda slot: taken.get(slot.starts_at, 0)
        )
        return {"windows": windows}

    @api("POST", "/v1/bookings", roles={Role.APPLICANT})
    def book(self, request: Request) -> Response:
        body = json_body(request, bodies.BOOK)
        caller = caller_of(request)
        starts_at = self._bookable_start(body["starts_at"])
        booking_id = self.app.book(
            caller.account_id,
            self._id_number(caller.account_id),
            body["certificate_numbers"],
            starts_at,
            _now(),
        )
        BOOKINGS.inc()
        log.info("booking %s made", booking_id)
        return json_response({"booking_id": str(booking_id)}, 201)

    @api("GET", "/v1/me/bookings", roles={Role.APPLICANT})
    def my_bookings(self, request: Request) -> dict:
        rows = self.views.bookings_of(caller_of(request).account_id)
        return {"bookings": [_booking(row) for row in rows]}

    @api("POST", "/v1/bookings/<uuid:booking_id>/cancel", roles={Role.APPLICANT})
    def cancel(self, request: Request, booking_id: uuid.UUID) -> Response:
        self.app.cancel_booking(caller_of(request).account_id, booking_id, _now())
        return Response(status=204)

    @api("POST", "/v1/bookings/<uuid:booking_id>/move", roles={Role.APPLICANT})
    def move(self, request: Request, booking_id: uuid.UUID) -> Response:
        body = json_body(request, bodies.MOVE)
        starts_at = self._bookable_start(body["starts_at"])
        self.app.move_booking(
            caller_of(request).account_id, booking_id, starts_at, _now()
        )
        return Response(status=204)

    @api("PUT", "/v1/bookings/<uuid:booking_id>/proxy", roles={Role.APPLICANT})
    def name_proxy(self, request: Request, booking_id: uuid.UUID) -> Response:
        body = json_body(request, bodies.PROXY)
        self.app.name_proxy(
            caller_of(request).account_id,
            booking_id,
            body["name"],
            body["id_number"],
            _now(),
        )
        return Response(status=204)

    @api("GET", "/v1/mail/terms", roles=PUBLIC)
    def mail_terms(self, request: Request) -> dict:
        return {
            "postage_notice": self.settings.postage_notice,
            "ships_within_working_days": MAIL_DEADLINE_WORKING_DAYS,
        }

    @api("POST", "/v1/mail-orders", roles={Role.APPLICANT})
    def request_mail(self, request: Request) -> Response:
        body = json_body(request, bodies.MAIL)
        caller = caller_of(request)
        order = self.app.request_mail(
            caller.account_id,
            self._id_number(caller.account_id),
            body["certificate_numbers"],
            bodies.delivery(body),
            _now(),
        )
        log.info("mail order %s requested", order.id)
        return json_response(
            {
                "order_id": str(order.id),
                "ship_by": order.ship_by.isoformat(),
                "postage_notice": self.settings.postage_notice,
            },
            201,
        )

    @api("PUT", "/v1/mail-orders/<uuid:order_id>", roles={Role.APPLICANT})
    def edit_mail(self, request: Request, order_id: uuid.UUID) -> Response:
        body = json_body(request, bodies.DELIVERY)
        self.app.edit_mail(
            caller_of(request).account_id, order_id, bodies.delivery(body)
        )
        return Response(status=204)

    @api("GET", "/v1/me/mail-orders", roles={Role.APPLICANT})
    def my_mail_orders(self, request: Request) -> dict:
        rows = self.views.mail_orders_of(caller_of(request).account_id)
        return {"mail_orders": [_order(row, self._calendar()) for row in rows]}

    # --- staff ----------------------------------------------------------------------

    @api("GET", "/v1/counter/bookings", roles={Role.COUNTER_CLERK})
    def counter_list(self, request: Request) -> dict:
        day = _date_arg(request, "day") or _now().date()
        rows = self.views.bookings_on(day)
        return {"day": day.isoformat(), "bookings": [_counter_row(r) for r in rows]}

    @api(
        "POST",
        "/v1/counter/bookings/<uuid:booking_id>/hand-over",
        roles={Role.COUNTER_CLERK},
    )
    def hand_over(self, request: Request, booking_id: uuid.UUID) -> Response:
        body = json_body(request, bodies.HAND_OVER)
        self.app.hand_over(caller_of(request).account_id, booking_id, body)
        log.info("booking %s handed over (%s)", booking_id, body["collected_by"])
        return Response(status=204)

    @api("GET", "/v1/shipping/orders", roles={Role.SHIPPING_CLERK})
    def shipping_list(self, request: Request) -> dict:
        calendar = self._calendar()
        orders = [_order(row, calendar) for row in self.views.unshipped_orders()]
        MAIL_OVERDUE.set(sum(order["overdue"] for order in orders))
        return {"orders": orders}

    @api(
        "POST",
        "/v1/shipping/orders/<uuid:order_id>/ship",
        roles={Role.SHIPPING_CLERK},
    )
    def ship(self, request: Request, order_id: uuid.UUID) -> Response:
        body = json_body(request, bodies.SHIP)
        self.app.ship(
            caller_of(request).account_id,
            order_id,
            body["tracking_number"],
            body["carrier"],
        )
        return Response(status=204)

    @api("PUT", "/v1/admin/pickup-days/<day>", roles={Role.ADMINISTRATOR})
    def set_pickup_day(self, request: Request, day: str) -> dict:
        body = json_body(request, bodies.PICKUP_DAY)
        when = _parse_date(day, "day")
        newly_closed = self.app.set_pickup_day(
            when, body.get("capacity"), body.get("closed"), body.get("reason")
        )
        cancelled = self._cancel_on(when) if newly_closed else 0
        return {"day": when.isoformat(), "bookings_cancelled": cancelled}

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

    # --- sweeps ---------------------------------------------------------------------

    # Every replica ticks; one of them runs each period of each sweep.

    @timer(interval=TICK_SECONDS)
    def sweep_bookings(self) -> None:
        """No-shows lapse; bookings on days closed since they were made end."""
        if not self.jobs.claim("sweep_bookings", BOOKING_SWEEP_EVERY):
            return
        now = _now()
        for booking_id in self.views.lapsed_bookings(now):
            self.app.lapse(booking_id, now)
        for day in self.views.days_with_bookings(now):
            if not self.app.is_open(day):
                self._cancel_on(day)

    @timer(interval=30, eager=True)
    def count_overdue(self) -> None:
        """Every replica keeps its gauge current: the alerts read the highest."""
        today = _now().date()
        overdue = [o for o in self.views.unshipped_orders() if today > o["ship_by"]]
        MAIL_OVERDUE.set(len(overdue))

    @timer(interval=TICK_SECONDS, eager=True)
    def sweep_custody(self) -> None:
        """Remind holders before custody ends, and end it the day after."""
        every = timedelta(seconds=self.settings.custody_sweep_seconds)
        if not self.jobs.claim("sweep_custody", every):
            return
        today = _now().date()
        for certificate in self.views.custody_to_watch(today, max(REMINDER_DAYS)):
            self.app.watch_custody(certificate, today)

    # --- helpers --------------------------------------------------------------------

    def _cancel_on(self, day: date) -> int:
        booked = self.views.booked_on(day)
        for booking_id in booked:
            self.app.cancel_for_closed_day(booking_id)
        return len(booked)

    def _id_number(self, account_id: uuid.UUID) -> str:
        id_number = self.accounts.id_number_of(account_id)
        if id_number is None:
            raise Forbidden("real_name_required", "请先完成实名认证，再办理领取。")
        return id_number

    def _bookable_start(self, raw: str) -> datetime:
        starts_at = _parse_datetime(raw)
        last = _now().date() + timedelta(days=self.settings.pickup.horizon_days)
        if starts_at.astimezone(BEIJING).date() > last:
            raise Invalid(
                "too_far_ahead",
                f"只能预约 {self.settings.pickup.horizon_days} 天之内的时段。",
            )
        return starts_at

    def _calendar(self) -> WorkingCalendar:
        return self.app.rules.calendar


def _now() -> datetime:
    return datetime.now(BEIJING)


def _parse_datetime(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Invalid(
            "invalid_time",
            "时间格式应为带时区的 ISO 8601，例如 2026-12-08T10:00:00+08:00。",
        )
    return value


def _parse_date(raw: str, what: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid("invalid_date", f"{what} 应为日期，例如 2026-12-08。") from None


def _date_arg(request: Request, name: str) -> date | None:
    raw = request.args.get(name)
    return _parse_date(raw, name) if raw else None


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 < int(raw) <= 366:
        raise Invalid("invalid_request", f"{name} 应为 1 到 366 之间的整数。")
    return int(raw)


def _booking(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "booking_id": str(row["booking_id"]),
        "certificate_numbers": row["certificate_numbers"],
        "starts_at": row["starts_at"].astimezone(BEIJING).isoformat(),
        "ends_at": row["ends_at"].astimezone(BEIJING).isoformat(),
        "state": row["state"],
        "proxy_named": row["proxy_name"] is not None,
    }


def _counter_row(row: dict[str, Any]) -> dict[str, Any]:
    # The clerk compares the document in hand with the name and the last digits.
    return {
        **_booking(row),
        "holder_name": row["holder_name"],
        "holder_id_number_ends_with": row["holder_id_number"][-4:],
        "proxy_name": row["proxy_name"],
        "proxy_id_number_ends_with": row["proxy_id_number_ends_with"],
        "collected_by": row["collected_by"],
    }


def _order(row: dict[str, Any], calendar: WorkingCalendar) -> dict[str, Any]:
    today = _now().date()
    shipped = row["tracking_number"] is not None
    left = calendar.working_days_between(today, row["ship_by"])
    return {
        "order_id": str(row["order_id"]),
        "certificate_numbers": row["certificate_numbers"],
        "recipient": row["recipient"],
        "mobile": row["mobile"],
        "address": row["address"],
        "requested_at": row["requested_at"].astimezone(BEIJING).isoformat(),
        "ship_by": row["ship_by"].isoformat(),
        "working_days_left": None if shipped else left,
        "overdue": not shipped and today > row["ship_by"],
        "tracking_number": row["tracking_number"],
        "carrier": row["carrier"],
        "delivered": row["delivered"],
    }
