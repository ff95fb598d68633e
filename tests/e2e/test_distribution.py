"""Claiming paper certificates end to end: book, move, cancel, hand over, mail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import requests

from tests.support.holders import certificates_of, verified_holder
from tests.support.infrastructure import eventually
from tests.support.staff import staff_member
from tools.exam_authority import Broker, publish, results_message, sample_candidates

ADDRESS = {
    "province": "新疆维吾尔自治区",
    "city": "乌鲁木齐市",
    "district": "天山区",
    "street": "人民路 1 号",
}


@pytest.fixture
def product(start_identity, start_certificates, start_service, database, vhost):
    identity = start_identity()
    certificates = start_certificates()
    distribution = start_service("distribution")
    return identity, certificates, distribution


def call(method: str, service, path: str, who, body=None) -> requests.Response:
    return requests.request(
        method, service.url + path, json=body, headers=who.auth, timeout=10
    )


def code(response: requests.Response) -> str:
    return response.json()["error"]["code"]


def kept_holder(product, vhost, session: str, count: int = 1):
    """A verified holder with `count` national paper certificates in custody."""
    identity, certificates, distribution = product
    candidates = sample_candidates(session, 3)
    for extra in range(1, count):
        candidates[extra] = {**candidates[extra], **_same_person(candidates[0])}
    publish(Broker(vhost.amqp_uri), results_message(session, candidates))
    holder = verified_holder(
        identity.url, candidates[0]["name"], candidates[0]["id_number"]
    )
    numbers = [c["certificate_number"] for c in candidates[:count]]
    eventually(
        lambda: len(certificates_of(certificates.url, holder)["certificates"]) == count
    )
    return holder, numbers


def _same_person(candidate: dict) -> dict:
    return {"id_number": candidate["id_number"], "name": candidate["name"]}


def open_windows(distribution, holder) -> list[dict]:
    response = call("GET", distribution, "/v1/pickup/windows?days=30", holder)
    assert response.status_code == 200, response.text
    return [w for w in response.json()["windows"] if w["seats_left"] > 0]


def book(distribution, holder, numbers, window) -> requests.Response:
    body = {"certificate_numbers": numbers, "starts_at": window["starts_at"]}
    return eventually(
        lambda: _booked_or_final(
            call("POST", distribution, "/v1/bookings", holder, body)
        ),
        what="the certificate to reach distribution",
    )


def _booked_or_final(response: requests.Response):
    # Until distribution has the certificate on record it answers "not yours".
    if response.status_code == 404 and code(response) == "certificate_not_yours":
        return None
    return response


def my_certificate(certificates, holder) -> dict:
    return certificates_of(certificates.url, holder)["certificates"][0]


def test_a_holder_books_moves_cancels_and_rebooks_a_pickup_window(product, vhost):
    identity, certificates, distribution = product
    holder, numbers = kept_holder(product, vhost, "2025-book")
    windows = open_windows(distribution, holder)

    first = book(distribution, holder, numbers, windows[0])
    booking_id = first.json()["booking_id"]
    again = call(
        "POST",
        distribution,
        "/v1/bookings",
        holder,
        {"certificate_numbers": numbers, "starts_at": windows[1]["starts_at"]},
    )
    eventually(lambda: my_certificate(certificates, holder)["state"] == "booked")
    moved = call(
        "POST",
        distribution,
        f"/v1/bookings/{booking_id}/move",
        holder,
        {"starts_at": windows[1]["starts_at"]},
    )
    eventually(lambda: booked_at(certificates, holder) == windows[1]["starts_at"])
    cancelled = call("POST", distribution, f"/v1/bookings/{booking_id}/cancel", holder)
    eventually(lambda: my_certificate(certificates, holder)["state"] == "in_custody")
    rebooked = book(distribution, holder, numbers, windows[2])

    assert first.status_code == 201
    assert (again.status_code, code(again)) == (409, "certificate_not_claimable")
    assert moved.status_code == 204
    assert cancelled.status_code == 204
    assert rebooked.status_code == 201
    eventually(lambda: booked_at(certificates, holder) == windows[2]["starts_at"])
    shown = my_certificate(certificates, holder)
    assert shown["next_actions"] == ["move_booking", "cancel_booking", "name_proxy"]


def booked_at(certificates, holder) -> str | None:
    """The start of the holder's booked window, as the portal shows it."""
    shown = my_certificate(certificates, holder)
    if shown["state"] != "booked":
        return None
    return shown["booking"]["starts_at"]


def test_bookings_that_break_the_rules_are_refused_with_a_reason(product, vhost):
    identity, certificates, distribution = product
    holder, numbers = kept_holder(product, vhost, "2025-rules")
    stranger, _ = kept_holder(product, vhost, "2025-other")
    window = open_windows(distribution, holder)[0]
    book(distribution, stranger, _numbers_of(certificates, stranger), window)

    def attempt(numbers_, starts_at):
        body = {"certificate_numbers": numbers_, "starts_at": starts_at}
        return call("POST", distribution, "/v1/bookings", holder, body)

    saturday = "2026-12-05T10:00:00+08:00"
    odd_minute = window["starts_at"][:14] + "07:00+08:00"
    answers = {
        "not theirs": attempt(_numbers_of(certificates, stranger), window["starts_at"]),
        "a saturday": attempt(numbers, saturday),
        "not a window start": attempt(numbers, odd_minute),
        "in the past": attempt(numbers, "2025-12-02T10:00:00+08:00"),
        "no time zone": attempt(numbers, "2026-12-08T10:00:00"),
        "nothing chosen": attempt([], window["starts_at"]),
    }

    assert {k: (v.status_code, code(v)) for k, v in answers.items()} == {
        "not theirs": (404, "certificate_not_yours"),
        "a saturday": (400, "not_a_pickup_window"),
        "not a window start": (400, "not_a_pickup_window"),
        "in the past": (400, "window_passed"),
        "no time zone": (400, "invalid_time"),
        "nothing chosen": (400, "invalid_request"),
    }


def _numbers_of(certificates, holder) -> list[str]:
    rows = certificates_of(certificates.url, holder)["certificates"]
    return [row["certificate_number"] for row in rows]


def test_the_counter_hands_over_to_the_holder_or_a_proxy_with_every_item(
    product, vhost, database
):
    identity, certificates, distribution = product
    clerk = staff_member(identity.url, database, vhost, "counter_clerk")
    holder, numbers = kept_holder(product, vhost, "2025-counter")
    window = open_windows(distribution, holder)[0]
    booking_id = book(distribution, holder, numbers, window).json()["booking_id"]
    day = window["starts_at"][:10]
    listed = eventually(
        lambda: call(
            "GET", distribution, f"/v1/counter/bookings?day={day}", clerk
        ).json()["bookings"]
    )
    proxy = {"name": "王建国", "id_number": "650102199308052190"}
    named = call("PUT", distribution, f"/v1/bookings/{booking_id}/proxy", holder, proxy)
    shown_to_clerk = eventually(
        lambda: _counter_row_with_proxy(distribution, clerk, day), what="the proxy"
    )
    hand_over = f"/v1/counter/bookings/{booking_id}/hand-over"

    missing = call(
        "POST",
        distribution,
        hand_over,
        clerk,
        {"collected_by": "proxy", "proxy_name": proxy["name"]},
    )
    by_holder_self = call(
        "POST", distribution, hand_over, holder, {"collected_by": "holder"}
    )
    done = call(
        "POST",
        distribution,
        hand_over,
        clerk,
        {
            "collected_by": "proxy",
            "proxy_name": proxy["name"],
            "proxy_id_number": proxy["id_number"],
            "holder_document_checked": True,
            "proxy_document_checked": True,
            "authorisation": "委托书 2025-0001",
        },
    )
    twice = call("POST", distribution, hand_over, clerk, {"collected_by": "holder"})

    assert listed[0]["holder_id_number_ends_with"] == holder.id_number[-4:]
    assert named.status_code == 204
    assert shown_to_clerk["proxy_name"] == "王建国"
    assert shown_to_clerk["proxy_id_number_ends_with"] == "2190"
    assert (missing.status_code, code(missing)) == (400, "proxy_items_missing")
    assert "代领人证件号码" in missing.json()["error"]["message"]
    assert "委托书" in missing.json()["error"]["message"]
    assert (by_holder_self.status_code, code(by_holder_self)) == (
        403,
        "role_not_allowed",
    )
    assert done.status_code == 204
    assert (twice.status_code, code(twice)) == (409, "booking_not_active")
    eventually(lambda: my_certificate(certificates, holder)["state"] == "collected")


def test_mail_is_requested_edited_shipped_and_delivered(product, vhost, database):
    identity, certificates, distribution = product
    clerk = staff_member(identity.url, database, vhost, "shipping_clerk")
    holder, numbers = kept_holder(product, vhost, "2025-mail")
    body = {
        "certificate_numbers": numbers,
        "recipient": "李文静",
        "mobile": "13912345678",
        "address": ADDRESS,
    }

    terms = requests.get(distribution.url + "/v1/mail/terms", timeout=10).json()
    requested = eventually(
        lambda: _booked_or_final(
            call("POST", distribution, "/v1/mail-orders", holder, body)
        )
    )
    order_id = requested.json()["order_id"]
    edited = call(
        "PUT",
        distribution,
        f"/v1/mail-orders/{order_id}",
        holder,
        {
            **{k: body[k] for k in ("recipient", "mobile")},
            "address": {**ADDRESS, "street": "人民路 2 号"},
        },
    )
    pending = eventually(lambda: edited_order(distribution, clerk), what="the edit")
    waiting = eventually(
        lambda: (
            (c := my_certificate(certificates, holder))["state"] == "mail_requested"
            and c
        )
    )
    assert waiting["mail"]["ship_by"] == requested.json()["ship_by"]
    shipped = call(
        "POST",
        distribution,
        f"/v1/shipping/orders/{order_id}/ship",
        clerk,
        {"tracking_number": "SF1234567890", "carrier": "中国邮政 EMS"},
    )
    late_edit = call(
        "PUT",
        distribution,
        f"/v1/mail-orders/{order_id}",
        holder,
        {"recipient": "李文静", "mobile": "13912345678", "address": ADDRESS},
    )
    eventually(lambda: my_certificate(certificates, holder)["state"] == "shipped")
    publish(
        Broker(vhost.amqp_uri),
        _postal_delivery("SF1234567890"),
        exchange="postal_service.events",
        routing_key="mail_delivered",
    )

    assert "邮费" in terms["postage_notice"]
    assert requested.status_code == 201
    assert "邮费" in requested.json()["postage_notice"]
    assert edited.status_code == 204
    assert pending[0]["address"]["street"] == "人民路 2 号"
    assert pending[0]["working_days_left"] == 3
    assert pending[0]["overdue"] is False
    assert shipped.status_code == 204
    assert (late_edit.status_code, code(late_edit)) == (409, "already_shipped")
    eventually(lambda: my_certificate(certificates, holder)["state"] == "delivered")


def edited_order(distribution, clerk) -> list[dict] | None:
    orders = call("GET", distribution, "/v1/shipping/orders", clerk).json()["orders"]
    if orders and orders[0]["address"]["street"] == "人民路 2 号":
        return orders
    return None


def _counter_row_with_proxy(distribution, clerk, day) -> dict | None:
    rows = call("GET", distribution, f"/v1/counter/bookings?day={day}", clerk)
    row = rows.json()["bookings"][0]
    return row if row["proxy_name"] else None


def _postal_delivery(tracking: str) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "mail_delivered",
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "postal_service",
        "aggregate_id": tracking,
        "data": {"tracking_number": tracking},
    }


def test_closing_a_day_cancels_its_bookings_and_tells_the_holder(
    product, vhost, database
):
    identity, certificates, distribution = product
    admin = staff_member(identity.url, database, vhost, "administrator")
    holder, numbers = kept_holder(product, vhost, "2025-close")
    window = open_windows(distribution, holder)[0]
    book(distribution, holder, numbers, window)
    day = window["starts_at"][:10]
    eventually(lambda: my_certificate(certificates, holder)["state"] == "booked")

    closed = call(
        "PUT",
        distribution,
        f"/v1/admin/pickup-days/{day}",
        admin,
        {"closed": True, "reason": "自治区新公布的节假日"},
    )
    rebook_same_day = call(
        "POST",
        distribution,
        "/v1/bookings",
        holder,
        {"certificate_numbers": numbers, "starts_at": window["starts_at"]},
    )

    assert closed.json()["bookings_cancelled"] == 1
    assert (rebook_same_day.status_code, code(rebook_same_day)) == (409, "day_closed")
    shown = eventually(
        lambda: (
            (c := my_certificate(certificates, holder))["state"] == "in_custody" and c
        )
    )
    assert "停止发证" in shown["notice"]
    assert day not in {w["starts_at"][:10] for w in open_windows(distribution, holder)}
