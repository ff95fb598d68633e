"""Distribution's rules against the real event store, at chosen moments in time."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import date, datetime

import pytest

from services.common.db import ensure_schema, open_pool
from services.common.errors import Conflict
from services.common.identifiers import certificate_id
from services.common.workdays import BEIJING, WorkingCalendar
from services.distribution.application import DistributionApplication
from services.distribution.domain import Booking, Custody, PickupRules, Slot
from tools.exam_authority import sample_candidates

TUESDAY_MORNING = datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)
THURSDAY_TEN = datetime(2026, 12, 3, 10, 0, tzinfo=BEIJING)


@pytest.fixture
def distribution(settings):
    pool = open_pool(settings.database, max_size=1)
    ensure_schema(pool, "distribution")
    pool.close()
    app = DistributionApplication.from_settings(settings, "distribution")
    pickup = replace(settings.pickup, capacity=3)
    app.rules = PickupRules(pickup, WorkingCalendar.from_default_file())
    yield app
    app.close()


def keep(app, session: str, count: int, custody_until=date(2030, 11, 9)):
    """Certificates of `count` different holders, kept by the centre."""
    candidates = sample_candidates(session, count)
    for candidate in candidates:
        app.open_custody(
            certificate_id(candidate["certificate_number"]),
            candidate["certificate_number"],
            candidate["id_number"],
            candidate["name"],
            custody_until,
        )
    return candidates


def book(app, candidate, starts_at=THURSDAY_TEN, now=TUESDAY_MORNING):
    return app.book(
        uuid.uuid4(),
        candidate["id_number"],
        [candidate["certificate_number"]],
        starts_at,
        now,
    )


def test_many_holders_booking_the_last_seats_at_once_get_exactly_the_seats(
    distribution,
):
    candidates = keep(distribution, "2025-rush", 12)
    outcomes: list[str] = []
    start = threading.Barrier(len(candidates))

    def try_to_book(candidate) -> None:
        start.wait()
        try:
            book(distribution, candidate)
            outcomes.append("booked")
        except Conflict as refusal:
            outcomes.append(refusal.code)

    threads = [threading.Thread(target=try_to_book, args=(c,)) for c in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["booked"] * 3 + ["window_full"] * 9
    (window,) = distribution.open_slots(date(2026, 12, 3), 1, TUESDAY_MORNING)[:1]
    assert window["seats_left"] == 0


def test_a_busy_window_loads_from_its_snapshot_with_every_seat_counted(settings):
    pool = open_pool(settings.database, max_size=1)
    ensure_schema(pool, "distribution")
    pool.close()
    app = DistributionApplication.from_settings(settings, "distribution")
    app.rules = PickupRules(
        replace(settings.pickup, capacity=50), WorkingCalendar.from_default_file()
    )
    candidates = keep(app, "2025-snapshot", 45)
    booked = [book(app, candidate) for candidate in candidates]
    app.cancel_booking(
        app.repository.get(booked[0]).account_id, booked[0], TUESDAY_MORNING
    )

    (listed,) = app.open_slots(date(2026, 12, 3), 1, TUESDAY_MORNING)[:1]
    last = app.repository.get(booked[-1])
    window_id = Slot(last.starts_at, last.ends_at).window_id
    (snapshot,) = app.snapshots.get(window_id, desc=True, limit=1)
    fresh = DistributionApplication.from_settings(settings, "distribution")
    reloaded = fresh.repository.get(window_id)
    app.close()
    fresh.close()

    assert snapshot.originator_version == 40
    assert reloaded.version == 47
    assert reloaded.seats_taken == 44 == 50 - listed["seats_left"]
    assert str(booked[0]) not in reloaded.reservations


def test_a_booking_whose_window_passed_lapses_and_the_certificate_is_free_again(
    distribution,
):
    (candidate,) = keep(distribution, "2025-noshow", 1)
    booking_id = book(distribution, candidate)
    during = datetime(2026, 12, 3, 10, 10, tzinfo=BEIJING)
    after = datetime(2026, 12, 3, 10, 31, tzinfo=BEIJING)

    lapsed_during = distribution.lapse(booking_id, during)
    lapsed_after = distribution.lapse(booking_id, after)
    rebooked = book(
        distribution,
        candidate,
        starts_at=datetime(2026, 12, 8, 10, 0, tzinfo=BEIJING),
        now=after,
    )

    assert (lapsed_during, lapsed_after) == (False, True)
    assert distribution.repository.get(booking_id).state == "lapsed"
    assert rebooked != booking_id


def test_holders_are_reminded_at_90_and_30_days_and_custody_then_ends(distribution):
    (candidate,) = keep(distribution, "2025-custody", 1, custody_until=date(2026, 3, 1))
    certificate = certificate_id(candidate["certificate_number"])

    for today in (
        date(2025, 11, 30),  # 91 days before: nothing yet
        date(2025, 12, 1),  # 90 days
        date(2025, 12, 15),  # still within 90, already reminded
        date(2026, 1, 30),  # 30 days
        date(2026, 3, 1),  # the last day of custody
        date(2026, 3, 2),  # the day after
    ):
        distribution.watch_custody(certificate, today)

    custody = distribution.repository.get(certificate)
    assert isinstance(custody, Custody)
    assert custody.reminded == [90, 30]
    assert custody.state == "custody_expired"
    with pytest.raises(Conflict) as refusal:
        book(distribution, candidate, now=datetime(2026, 3, 2, 9, tzinfo=BEIJING))
    assert refusal.value.code == "custody_expired"


def test_windows_follow_summer_and_winter_hours(distribution):
    rules = distribution.rules

    summer = rules.slots(date(2025, 7, 1))  # a Tuesday
    winter = rules.slots(date(2025, 12, 2))  # a Tuesday
    holiday = rules.slots(date(2025, 10, 2))  # a Thursday in the National Day week

    assert (summer[0].starts_at.hour, summer[-1].ends_at.strftime("%H:%M")) == (
        10,
        "19:30",
    )
    assert any(s.starts_at.strftime("%H:%M") == "16:00" for s in summer)
    assert winter[-1].ends_at.strftime("%H:%M") == "19:00"
    assert any(s.starts_at.strftime("%H:%M") == "15:30" for s in winter)
    assert not any(s.starts_at.strftime("%H:%M") == "13:00" for s in winter)
    assert holiday == []


def test_moving_a_booking_frees_the_old_seat_and_takes_the_new(distribution):
    first, second = keep(distribution, "2025-move", 2)
    booking_id = book(distribution, first)
    later = datetime(2026, 12, 3, 10, 30, tzinfo=BEIJING)

    distribution.move_booking(
        distribution.repository.get(booking_id).account_id,
        booking_id,
        later,
        TUESDAY_MORNING,
    )
    slots = distribution.open_slots(date(2026, 12, 3), 1, TUESDAY_MORNING)

    seats = {w["starts_at"][11:16]: w["seats_left"] for w in slots}
    assert (seats["10:00"], seats["10:30"]) == (3, 2)
    booking = distribution.repository.get(booking_id)
    assert isinstance(booking, Booking)
    assert booking.starts_at == later
