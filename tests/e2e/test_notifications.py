"""Notifications end to end: every service as its own process, a real SMTP server
and a stand-in SMS gateway as processes of their own.

Holders choose their channels; each fact reaches each chosen channel once, through
redelivery and restarts; a failing gateway is retried, then given up visibly;
appointment reminders follow their appointment; deadlines are flagged on the
right working day.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from services.common.workdays import BEIJING, DEFAULT_REGIONAL_FILE, WorkingCalendar
from tests.e2e.test_distribution import ADDRESS, book, my_certificate, open_windows
from tests.e2e.test_reissue import (
    LONG_AGO,
    call,
    code,
    holder_with,
    ready_for_review,
)
from tests.support.holders import Holder, certificates_of, verified_holder
from tests.support.infrastructure import environment_for, eventually, secret_files
from tests.support.processes import ROOT
from tests.support.sms_gateway import SmsGatewayStandIn
from tests.support.smtp_sink import SmtpSink
from tests.support.staff import staff_member
from tools.authorities import (
    batch_arrived_message,
    ecert_signed_message,
    publish_fact,
)
from tools.exam_authority import Broker, publish, results_message, sample_candidates

FULL_ID_NUMBER = re.compile(r"\d{17}[\dX]")


@pytest.fixture
def sms_gateway(tmp_path):
    password = Path(secret_files()["XJCERT_SMS_GATEWAY_PASSWORD_FILE"]).read_text()
    gateway = SmsGatewayStandIn(
        tmp_path / "sms", username="xjcert", password=password.strip()
    ).start()
    yield gateway
    gateway.stop()


@pytest.fixture
def mail_server(tmp_path):
    sink = SmtpSink(tmp_path / "mail").start()
    yield sink
    sink.stop()


@pytest.fixture
def start_notifications(start_service, sms_gateway, mail_server):
    def start(**settings: str):
        return start_service(
            "notifications",
            XJCERT_SMS_GATEWAY_URL=sms_gateway.url,
            XJCERT_SMS_GATEWAY_USERNAME="xjcert",
            XJCERT_SMTP_HOST="127.0.0.1",
            XJCERT_SMTP_PORT=str(mail_server.port),
            XJCERT_NOTIFY_RETRY_BASE_SECONDS="1",
            XJCERT_NOTIFY_SWEEP_SECONDS="2",
            **settings,
        )

    return start


@pytest.fixture
def product(
    start_identity, start_certificates, start_service, start_notifications, tmp_path
):
    identity = start_identity()
    certificates = start_certificates()
    reissue = start_service("reissue", XJCERT_MATERIALS_DIR=str(tmp_path / "materials"))
    distribution = start_service("distribution")
    notifications = start_notifications()
    return identity, certificates, reissue, distribution, notifications


# --- helpers ----------------------------------------------------------------------


def choose_channels(notifications, database, holder, email: str | None, sms=True):
    chosen = call(
        "PUT",
        notifications,
        "/v1/me/notification-channels",
        holder,
        {"sms": sms, "email": email},
    )
    assert chosen.status_code == 200, chosen.text
    # The choice applies from the moment notifications has it in its read model.
    eventually(
        lambda: database.scalar(
            "SELECT count(*) FROM notifications_read.recipients "
            "WHERE email IS NOT DISTINCT FROM %s AND sms = %s AND mobile = %s",
            email,
            sms,
            holder.mobile,
        ),
        what="the channel choice to reach notifications",
    )
    return chosen.json()


def known_to_notifications(database, holder: Holder) -> None:
    """Wait until notifications can address facts about this holder's ID number."""
    eventually(
        lambda: database.scalar(
            "SELECT count(*) FROM notifications_read.recipients "
            "WHERE id_number = %s AND mobile = %s",
            holder.id_number,
            holder.mobile,
        ),
        what="the holder's verification to reach notifications",
    )


def open_deadlines(notifications, staff, kind: str | None = None) -> list[dict]:
    path = "/v1/staff/deadlines" + (f"?kind={kind}" if kind else "")
    response = call("GET", notifications, path, staff)
    assert response.status_code == 200, response.text
    return response.json()["deadlines"]


def notices(notifications, holder) -> list[dict]:
    response = call("GET", notifications, "/v1/me/notices", holder)
    assert response.status_code == 200, response.text
    return response.json()["notices"]


def kinds(notifications, holder) -> list[str]:
    return sorted(notice["kind"] for notice in notices(notifications, holder))


def wait_for_kinds(notifications, holder, expected: list[str]) -> list[dict]:
    eventually(
        lambda: kinds(notifications, holder) == sorted(expected),
        timeout=60,
        what=f"notices {expected}",
    )
    return notices(notifications, holder)


def texts_to(gateway, holder) -> list[dict]:
    return [m for m in gateway.received() if m["mobile"] == holder.mobile]


def mails_to(sink, address) -> list:
    return [m for m in sink.messages() if m["To"] == address]


def all_sent(notifications, holder) -> bool:
    return all(
        set(notice["channels"].values()) <= {"sent"}
        for notice in notices(notifications, holder)
    )


def metric(service, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in service.get("/metrics").text.splitlines():
        if line.startswith(f"{name}{{") and all(
            f'{key}="{value}"' in line for key, value in labels.items()
        ):
            return float(line.rsplit(" ", 1)[1])
        if not wanted and line.startswith(f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- each notification once on each chosen channel ---------------------------------


def test_a_reissue_tells_the_holder_each_step_once_on_each_chosen_channel(
    product, vhost, database, sms_gateway, mail_server
):
    identity, certificates, reissue, distribution, notifications = product
    holder, number, _ = holder_with(
        product[:4], vhost, "2019-told", exam_end_date=LONG_AGO
    )
    address = "holder@example.cn"
    choice = choose_channels(notifications, database, holder, address)
    assert choice == {
        "inbox": True,
        "sms": True,
        "email": address,
        "sms_available": True,
        "email_available": True,
    }
    reviewer = staff_member(identity.url, database, vhost, "reviewer")
    admin = staff_member(identity.url, database, vhost, "administrator")
    application_id = ready_for_review(reissue, holder, number=number)
    path = f"/v1/reissue/applications/{application_id}"
    review = f"/v1/review/applications/{application_id}"

    assert call("POST", reissue, f"{path}/submit", holder).status_code == 200
    message = "承诺书未签名，请签名后重新上传。"
    returned = call(
        "POST",
        reissue,
        f"{review}/return",
        reviewer,
        {"message": message, "problems": ["commitment_letter"]},
    )
    assert returned.status_code == 200, returned.text
    told = wait_for_kinds(notifications, holder, ["reissue_returned"])
    assert message in told[0]["body"]

    assert call("POST", reissue, f"{path}/submit", holder).status_code == 200
    approved = call("POST", reissue, f"{review}/approve", reviewer)
    assert approved.status_code == 200, approved.text
    period = approved.json()["batch"]
    closed = call("POST", reissue, f"/v1/admin/reissue/batches/{period}/close", admin)
    assert closed.status_code == 200, closed.text
    publish_fact(Broker(vhost.amqp_uri), batch_arrived_message(period, [number]))
    eventually(
        lambda: call("GET", reissue, "/v1/staff/reissue/syncs", reviewer).json()[
            "certificates"
        ]
    )
    sync_due = eventually(
        lambda: open_deadlines(notifications, reviewer, "reissue_sync"),
        what="the sync deadline",
    )
    assert [(d["reference"], d["working_days_left"]) for d in sync_due] == [(number, 5)]
    synced = call(
        "POST",
        reissue,
        "/v1/staff/reissue/syncs",
        reviewer,
        {"application_ids": [application_id]},
    )
    assert synced.status_code == 200, synced.text

    expected = [
        "certificate_claimable",
        "reissue_approved",
        "reissue_batched",
        "reissue_returned",
    ]
    wait_for_kinds(notifications, holder, expected)
    eventually(lambda: all_sent(notifications, holder), what="every channel sent")
    told = notices(notifications, holder)
    texts = texts_to(sms_gateway, holder)
    mails = mails_to(mail_server, address)
    assert len(texts) == len(mails) == len(expected)
    # One message per notice and channel, each with its own idempotency key.
    assert len({text["message_id"] for text in texts}) == len(expected)
    assert len({mail["Subject"] for mail in mails}) == len(expected)
    assert all(text["text"].startswith("【新疆人事考试】") for text in texts)
    assert not any(FULL_ID_NUMBER.search(text["text"]) for text in texts)
    assert any(message in mail.get_content() for mail in mails)
    assert all(
        notice["channels"] == {"sms": "sent", "email": "sent"} for notice in told
    )

    # Read in the inbox; another holder cannot mark it.
    first = told[0]["notice_id"]
    stranger = verified_holder(
        identity.url, "阿依古丽", sample_candidates("2019-stranger", 1)[0]["id_number"]
    )
    refused = call("POST", notifications, f"/v1/me/notices/{first}/read", stranger)
    assert (refused.status_code, code(refused)) == (404, "notice_not_found")
    read = call("POST", notifications, f"/v1/me/notices/{first}/read", holder)
    assert read.status_code == 204
    listed = call("GET", notifications, "/v1/me/notices", holder).json()
    assert listed["unread"] == len(expected) - 1
    # Each clock met: nothing open for the staff.
    assert open_deadlines(notifications, reviewer) == []


def verified_first(product, vhost, database, session, count=2):
    """A holder who verified before their results arrived, as most do."""
    identity = product[0]
    candidates = sample_candidates(session, count)
    first = candidates[0]
    holder = verified_holder(identity.url, first["name"], first["id_number"])
    known_to_notifications(database, holder)
    return holder, candidates


def test_claiming_tells_the_holder_of_each_appointment_and_the_shipment(
    product, vhost, database, sms_gateway, mail_server
):
    identity, certificates, reissue, distribution, notifications = product
    holder, candidates = verified_first(product, vhost, database, "2025-claim")
    choose_channels(notifications, database, holder, email=None)
    clerk = staff_member(identity.url, database, vhost, "shipping_clerk")
    publish(Broker(vhost.amqp_uri), results_message("2025-claim", candidates))
    number = candidates[0]["certificate_number"]
    wait_for_kinds(notifications, holder, ["certificate_claimable"])

    windows = open_windows(distribution, holder)
    booked = book(distribution, holder, [number], windows[0])
    booking = f"/v1/bookings/{booked.json()['booking_id']}"
    wait_for_kinds(
        notifications, holder, ["appointment_booked", "certificate_claimable"]
    )
    moved = call(
        "POST",
        distribution,
        f"{booking}/move",
        holder,
        {"starts_at": windows[1]["starts_at"]},
    )
    assert moved.status_code == 204, moved.text
    wait_for_kinds(
        notifications,
        holder,
        ["appointment_booked", "appointment_moved", "certificate_claimable"],
    )
    assert call("POST", distribution, f"{booking}/cancel", holder).status_code == 204
    eventually(lambda: my_certificate(certificates, holder)["state"] == "in_custody")

    order = eventually(
        lambda: [
            r
            for r in [
                call(
                    "POST",
                    distribution,
                    "/v1/mail-orders",
                    holder,
                    {
                        "certificate_numbers": [number],
                        "recipient": "李文静",
                        "mobile": holder.mobile,
                        "address": ADDRESS,
                    },
                )
            ]
            if r.status_code != 409
        ],
        what="the certificate to be claimable again",
    )[0]
    assert order.status_code == 201, order.text
    shipped = call(
        "POST",
        distribution,
        f"/v1/shipping/orders/{order.json()['order_id']}/ship",
        clerk,
        {"tracking_number": "EMS9876543210", "carrier": "中国邮政 EMS"},
    )
    assert shipped.status_code == 204, shipped.text

    expected = [
        "appointment_booked",
        "appointment_cancelled",
        "appointment_moved",
        "certificate_claimable",
        "mail_shipped",
    ]
    wait_for_kinds(notifications, holder, expected)
    eventually(lambda: all_sent(notifications, holder), what="every text sent")
    told = {n["kind"]: n for n in notices(notifications, holder)}
    texts = texts_to(sms_gateway, holder)
    assert len(texts) == len(expected)
    assert mail_server.messages() == []  # e-mail was not chosen
    assert windows[1]["starts_at"][11:16] in told["appointment_moved"]["body"]
    assert "EMS9876543210" in told["mail_shipped"]["body"]
    assert any("EMS9876543210" in text["text"] for text in texts)
    assert told["appointment_cancelled"]["channels"] == {"sms": "sent"}
    # The mail deadline was met by the shipment: nothing left open for the clerk.
    open_now = call("GET", notifications, "/v1/staff/deadlines", clerk).json()
    assert [d for d in open_now["deadlines"] if d["kind"] == "mail_shipment"] == []


def test_electronic_certificates_and_custody_tell_the_holder(
    product, vhost, database, sms_gateway, mail_server, start_service
):
    identity, certificates, reissue, distribution, notifications = product
    nurse, nurses = verified_first(product, vhost, database, "2026-nurse-told")
    engineer, engineers = verified_first(product, vhost, database, "2026-cost-told")
    keeper, kept = verified_first(product, vhost, database, "2021-custody-told")
    late, lates = verified_first(product, vhost, database, "2019-custody-told")
    admin = staff_member(identity.url, database, vhost, "administrator")
    publish(
        Broker(vhost.amqp_uri),
        results_message("2026-nurse-told", nurses, "nurse", "初级", "2026-09-20"),
    )
    # Custody ends five years after the exam: this one in three weeks.
    ending = (datetime.now(BEIJING).date() + timedelta(days=21)).replace(
        year=datetime.now(BEIJING).year - 5
    )
    publish(
        Broker(vhost.amqp_uri),
        results_message("2021-custody-told", kept, exam_end_date=ending.isoformat()),
    )
    publish(
        Broker(vhost.amqp_uri),
        results_message(
            "2026-cost-told", engineers, "cost_engineer", "二级", "2026-09-20"
        ),
    )
    publish(
        Broker(vhost.amqp_uri),
        results_message("2019-custody-told", lates, exam_end_date=LONG_AGO),
    )
    number = nurses[0]["certificate_number"]
    eventually(lambda: certificates_of(certificates.url, nurse)["certificates"])
    publish_fact(
        Broker(vhost.amqp_uri), ecert_signed_message("health_commission", number)
    )
    told = wait_for_kinds(notifications, nurse, ["ecert_downloadable"])
    assert number in told[0]["body"]

    # An industry certificate waits for the centre's signature, 3 working days.
    signed = engineers[0]["certificate_number"]
    eventually(lambda: certificates_of(certificates.url, engineer)["certificates"])
    publish_fact(
        Broker(vhost.amqp_uri), ecert_signed_message("industry_authority", signed)
    )
    waiting = eventually(
        lambda: open_deadlines(notifications, admin, "centre_signature"),
        what="the centre's signature deadline",
    )
    assert [(d["reference"], d["working_days_left"]) for d in waiting] == [(signed, 3)]
    assert kinds(notifications, engineer) == []
    by_centre = call("POST", certificates, f"/v1/staff/ecerts/{signed}/sign", admin)
    assert by_centre.status_code == 200, by_centre.text
    wait_for_kinds(notifications, engineer, ["ecert_downloadable"])
    assert open_deadlines(notifications, admin, "centre_signature") == []

    wait_for_kinds(notifications, keeper, ["certificate_claimable"])
    # Distribution watches custody when it starts and every hour after.
    distribution.stop()
    start_service("distribution", XJCERT_CUSTODY_SWEEP_SECONDS="2")
    told = wait_for_kinds(
        notifications, keeper, ["certificate_claimable", "custody_ending_soon"]
    )
    ending_soon = next(n for n in told if n["kind"] == "custody_ending_soon")
    assert ending.replace(year=ending.year + 5).isoformat() in ending_soon["body"]
    # Custody that ended long ago: never claimable, then expired.
    wait_for_kinds(notifications, late, ["custody_expired"])
    eventually(lambda: all_sent(notifications, keeper))
    eventually(lambda: all_sent(notifications, late))
    assert len(texts_to(sms_gateway, keeper)) == 2
    assert len(texts_to(sms_gateway, late)) == 1
    assert len(texts_to(sms_gateway, nurse)) == 1


# --- failures, redelivery, restarts ---------------------------------------------


def test_a_failing_gateway_is_retried_then_given_up_visibly(
    product, vhost, database, sms_gateway
):
    identity, certificates, reissue, distribution, notifications = product
    admin = staff_member(identity.url, database, vhost, "administrator")
    holder, candidates = verified_first(product, vhost, database, "2025-retry")
    sms_gateway.fail_next(3, status=503)
    publish(Broker(vhost.amqp_uri), results_message("2025-retry", candidates))

    told = wait_for_kinds(notifications, holder, ["certificate_claimable"])
    eventually(lambda: all_sent(notifications, holder), what="the text after retries")
    assert len(texts_to(sms_gateway, holder)) == 1
    assert len(sms_gateway.refused()) == 3
    assert (
        metric(
            notifications,
            "notifications_attempts_failed_total",
            channel="sms",
            outcome="retrying",
        )
        == 3
    )

    # A gateway that refuses the message itself: no point trying again.
    sms_gateway.fail_next(1, status=400)
    windows = open_windows(distribution, holder)
    book(distribution, holder, [candidates[0]["certificate_number"]], windows[0])
    failed = eventually(
        lambda: call(
            "GET", notifications, "/v1/admin/notifications/deliveries", admin
        ).json()["deliveries"],
        what="the failed delivery",
    )
    assert [(d["kind"], d["channel"], d["attempts"]) for d in failed] == [
        ("appointment_booked", "sms", 1)
    ]
    assert failed[0]["last_error"]
    assert "mobile" not in failed[0] and "address" not in failed[0]
    mine = {n["kind"]: n for n in notices(notifications, holder)}
    assert mine["appointment_booked"]["channels"] == {"sms": "failed"}
    assert told[0]["kind"] == "certificate_claimable"


def test_redelivered_facts_and_a_restart_send_nothing_twice(
    product, vhost, database, sms_gateway, start_notifications
):
    identity, certificates, reissue, distribution, notifications = product
    holder, candidates = verified_first(product, vhost, database, "2025-again")
    publish(Broker(vhost.amqp_uri), results_message("2025-again", candidates))
    number = candidates[0]["certificate_number"]
    wait_for_kinds(notifications, holder, ["certificate_claimable"])
    windows = open_windows(distribution, holder)
    book(distribution, holder, [number], windows[0])
    before = wait_for_kinds(
        notifications, holder, ["appointment_booked", "certificate_claimable"]
    )
    eventually(lambda: all_sent(notifications, holder))

    # Every distribution fact again, and a crash of notifications in between.
    republished = subprocess.run(
        [sys.executable, "-m", "services.common.republish", "distribution"],
        cwd=ROOT,
        env={**environment_for(database, vhost), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert republished.returncode == 0, republished.stderr
    notifications.kill()
    notifications = start_notifications()
    eventually(
        lambda: (
            metric(
                notifications,
                "notifications_events_consumed_total",
                queue="notifications.distribution",
                outcome="duplicate",
            )
            >= 2
        ),
        timeout=60,
        what="the republished facts to be seen again",
    )

    after = notices(notifications, holder)
    assert sorted(n["notice_id"] for n in after) == sorted(
        n["notice_id"] for n in before
    )
    assert len(texts_to(sms_gateway, holder)) == 2
    assert (
        database.scalar(
            "SELECT count(*) FROM notifications_read.deliveries WHERE state <> 'sent'"
        )
        == 0
    )


# --- reminders -----------------------------------------------------------------


def test_an_appointment_reminder_moves_and_is_cancelled_with_its_appointment(
    product, vhost, database, sms_gateway, start_notifications
):
    identity, certificates, reissue, distribution, notifications = product
    # Reminders at midnight, so that the rehearsal below, on the day before,
    # finds them due whatever the hour the test runs at.
    notifications.stop()
    notifications = start_notifications(XJCERT_APPOINTMENT_REMINDER_HOUR="0")
    first, firsts = verified_first(product, vhost, database, "2025-remind-a")
    second, seconds = verified_first(product, vhost, database, "2025-remind-b")
    for session, candidates in (("2025-remind-a", firsts), ("2025-remind-b", seconds)):
        publish(Broker(vhost.amqp_uri), results_message(session, candidates))
    today = datetime.now(BEIJING).date()
    later = [
        w
        for w in open_windows(distribution, first)
        if date.fromisoformat(w["starts_at"][:10]) >= today + timedelta(days=2)
    ]
    days = sorted({w["starts_at"][:10] for w in later})
    on_first_day = next(w for w in later if w["starts_at"][:10] == days[0])
    on_second_day = next(w for w in later if w["starts_at"][:10] == days[1])

    booked = book(distribution, first, [firsts[0]["certificate_number"]], on_first_day)
    booking = f"/v1/bookings/{booked.json()['booking_id']}"
    book(distribution, second, [seconds[0]["certificate_number"]], on_first_day)
    scheduled = eventually(lambda: reminders(database, first), what="a reminder")
    assert scheduled == [(on_first_day["starts_at"], "scheduled")]

    moved = call(
        "POST",
        distribution,
        f"{booking}/move",
        first,
        {"starts_at": on_second_day["starts_at"]},
    )
    assert moved.status_code == 204, moved.text
    eventually(
        lambda: (
            reminders(database, first) == [(on_second_day["starts_at"], "scheduled")]
        ),
        what="the reminder to move with the appointment",
    )
    assert call("POST", distribution, f"{booking}/cancel", first).status_code == 204
    eventually(
        lambda: (
            reminders(database, first) == [(on_second_day["starts_at"], "cancelled")]
        ),
        what="the reminder to be cancelled with the appointment",
    )

    # The day before both appointments' days, as the notifications service sees it.
    notifications.stop()
    shift = (date.fromisoformat(days[0]) - timedelta(days=1) - today).days
    rehearsal = start_notifications(
        XJCERT_CLOCK_SHIFT_DAYS=str(shift), XJCERT_APPOINTMENT_REMINDER_HOUR="0"
    )
    eventually(
        lambda: "appointment_tomorrow" in kinds(rehearsal, second),
        what="the kept appointment's reminder",
    )
    notifications_second = (
        shift + (date.fromisoformat(days[1]) - date.fromisoformat(days[0])).days
    )
    rehearsal.stop()
    later_day = start_notifications(
        XJCERT_CLOCK_SHIFT_DAYS=str(notifications_second),
        XJCERT_APPOINTMENT_REMINDER_HOUR="0",
    )
    wait_for_sweeps(later_day)
    assert "appointment_tomorrow" not in kinds(later_day, first)
    assert kinds(later_day, second).count("appointment_tomorrow") == 1
    assert reminders(database, second) == [(on_first_day["starts_at"], "sent")]


def reminders(database, holder) -> list[tuple[str, str]]:
    with database.connect() as conn:
        rows = conn.execute(
            "SELECT r.starts_at, r.state FROM notifications_read.reminders r "
            "JOIN notifications_read.recipients p USING (account_id) "
            "WHERE p.mobile = %s ORDER BY r.starts_at",
            (holder.mobile,),
        ).fetchall()
    return [(s.astimezone(BEIJING).isoformat(), state) for s, state in rows]


def wait_for_sweeps(service, runs: int = 2) -> None:
    """Until this process has run (or seen run) the scheduled jobs a few times."""
    eventually(
        lambda: (
            sum(
                metric(
                    service,
                    "scheduled_job_runs_total",
                    job="appointment_reminders",
                    outcome=outcome,
                )
                for outcome in ("ran", "another_replica")
            )
            >= runs
        ),
        timeout=30,
        what="the scheduled jobs to run",
    )


# --- deadlines -----------------------------------------------------------------


def calendar_with_holiday(tmp_path) -> tuple[Path, date]:
    """The packaged calendar plus a regional day off on the next working day."""
    data = json.loads(Path(DEFAULT_REGIONAL_FILE).read_text(encoding="utf-8"))
    packaged = WorkingCalendar.from_default_file()
    today = datetime.now(BEIJING).date()
    holiday = packaged.add_working_days(today, 1)
    data["years"][str(holiday.year)]["regional"].append(
        {"date": holiday.isoformat(), "name": "演练假日"}
    )
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path, holiday


def test_an_overdue_review_is_flagged_on_the_right_working_day_across_a_holiday(
    start_identity,
    start_certificates,
    start_service,
    start_notifications,
    vhost,
    database,
    tmp_path,
):
    calendar_file, holiday = calendar_with_holiday(tmp_path)
    calendar = WorkingCalendar.from_file(calendar_file)
    identity = start_identity()
    certificates = start_certificates()
    reissue = start_service(
        "reissue",
        XJCERT_MATERIALS_DIR=str(tmp_path / "materials"),
        XJCERT_CALENDAR_FILE=str(calendar_file),
    )
    distribution = start_service("distribution")
    notifications = start_notifications(XJCERT_CALENDAR_FILE=str(calendar_file))
    product = (identity, certificates, reissue, distribution)
    reviewer = staff_member(identity.url, database, vhost, "reviewer")
    holder, number, _ = holder_with(product, vhost, "2019-late", exam_end_date=LONG_AGO)
    application_id = ready_for_review(reissue, holder, number=number)
    submitted = call(
        "POST", reissue, f"/v1/reissue/applications/{application_id}/submit", holder
    )
    today = datetime.now(BEIJING).date()
    due = date.fromisoformat(submitted.json()["review_due"])
    without_holiday = WorkingCalendar.from_default_file().add_working_days(today, 3)
    assert due == calendar.add_working_days(today, 3) > without_holiday

    listed = eventually(
        lambda: call("GET", notifications, "/v1/staff/deadlines", reviewer).json()[
            "deadlines"
        ],
        what="the review deadline",
    )
    assert [(d["kind"], d["reference"], d["due_on"]) for d in listed] == [
        ("review", number, due.isoformat())
    ]
    assert listed[0]["working_days_left"] == 3

    def on(day: date, replicas: int = 1):
        notifications.stop()
        for started in running:
            started.stop()
        running.clear()
        shift = str((day - today).days)
        for _ in range(replicas):
            running.append(
                start_notifications(
                    XJCERT_CALENDAR_FILE=str(calendar_file),
                    XJCERT_CLOCK_SHIFT_DAYS=shift,
                )
            )
        for started in running:
            wait_for_sweeps(started)
        return running[0]

    running: list = []
    # The day after the deadline a count that forgot the holiday would give.
    seen = on(without_holiday + timedelta(days=1))
    row = call("GET", seen, "/v1/staff/deadlines", reviewer).json()["deadlines"][0]
    assert (row["overdue"], row["flagged"]) == (False, False)
    assert call("GET", seen, "/v1/staff/notices", reviewer).json()["notices"] == []

    # The due day itself: the last day allowed.
    seen = on(due)
    row = call("GET", seen, "/v1/staff/deadlines", reviewer).json()["deadlines"][0]
    assert (row["working_days_left"], row["overdue"]) == (0, False)

    # The next day, with two replicas checking: flagged once.
    seen = on(due + timedelta(days=1), replicas=2)
    staff_told = eventually(
        lambda: call("GET", seen, "/v1/staff/notices", reviewer).json()["notices"],
        what="the reviewers to be told",
    )
    time.sleep(5)  # both replicas keep checking; neither flags it again
    staff_told = call("GET", seen, "/v1/staff/notices", reviewer).json()["notices"]
    assert [n["kind"] for n in staff_told] == ["deadline_overdue"]
    assert number in staff_told[0]["body"]
    row = call("GET", seen, "/v1/staff/deadlines", reviewer).json()["deadlines"][0]
    assert (row["overdue"], row["flagged"], row["working_days_left"]) == (
        True,
        True,
        -calendar.working_days_between(due, due + timedelta(days=1)),
    )
    assert metric(running[0], "deadlines_overdue", kind="review") == 1
    flagged = (
        "SELECT count(*) FROM notifications_read.deadlines "
        "WHERE overdue_flagged_at IS NOT NULL"
    )
    assert database.scalar(flagged) == 1
    assert holiday < due
