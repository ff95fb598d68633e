"""When holders are reminded, how a window reads, whose notice an id is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.common.workdays import BEIJING
from services.notifications.views import (
    notice_id,
    reminder_time,
    window_text,
)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=BEIJING)


def test_a_holder_is_reminded_the_day_before_at_the_set_hour():
    assert reminder_time(at(1, 15), at(8, 10), hour=10) == at(7, 10)


def test_booked_after_the_reminder_hour_the_day_before_they_are_reminded_at_once():
    assert reminder_time(at(7, 16, 30), at(8, 10), hour=10) == at(7, 16, 30)


def test_booked_for_the_same_day_no_reminder_is_needed():
    assert reminder_time(at(8, 8), at(8, 16), hour=10) is None


def test_the_day_before_is_a_beijing_day_whatever_the_zone_of_the_facts():
    booked = datetime(2026, 12, 1, 2, tzinfo=UTC)  # 10:00 Beijing
    starts = datetime(2026, 12, 8, 2, tzinfo=UTC)  # Tuesday 10:00 Beijing

    assert reminder_time(booked, starts, hour=0) == at(7, 0)


def test_a_window_reads_with_its_weekday_in_beijing_time():
    starts = datetime(2026, 12, 8, 2, tzinfo=UTC)

    assert window_text(starts, starts + timedelta(minutes=30)) == (
        "12月8日（星期二）10:00–10:30"
    )


def test_a_notice_id_is_the_same_for_the_same_fact_and_recipient_only():
    fact, holder, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    assert notice_id(fact, "reissue_approved", holder) == notice_id(
        str(fact), "reissue_approved", holder
    )
    assert notice_id(fact, "reissue_approved", holder) != notice_id(
        fact, "reissue_approved", other
    )
    assert notice_id(fact, "reissue_approved", holder) != notice_id(
        fact, "reissue_batched", holder
    )
