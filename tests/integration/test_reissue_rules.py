"""The reissue rules against the real event store: one open application per
certificate, the review clock, monthly batches, arrivals without double effects."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, time

import pytest

from services.common.db import ensure_schema, open_pool
from services.common.errors import Conflict, Invalid
from services.common.eventstore import event_store_env
from services.common.identifiers import certificate_id
from services.common.relay import envelope_for
from services.common.workdays import BEIJING, WorkingCalendar
from services.reissue.application import ReissueApplication, UnknownBatch
from services.reissue.domain import State
from services.reissue.publication import publication
from services.reissue.views import ApplicationViews

CALENDAR = WorkingCalendar.from_default_file()
HOLDER = uuid.uuid4()
REVIEWER = uuid.uuid4()


def at(day: str, hour: int = 10) -> datetime:
    return datetime.combine(
        datetime.fromisoformat(day).date(), time(hour), tzinfo=BEIJING
    )


def certificate(number: str, kind: str = "national_paper") -> dict:
    return {
        "certificate_id": certificate_id(number),
        "certificate_number": number,
        "kind": kind,
        "holder_id_number": "650102199001011234",
        "holder_name": "测试",
        "qualification_name": "经济专业技术资格",
        "level": "中级",
    }


def new_app(settings) -> ReissueApplication:
    app = ReissueApplication(env=event_store_env(settings, "reissue"))
    app.calendar = CALENDAR
    app.batch_closing_day = 25
    return app


@pytest.fixture
def app(settings):
    pool = open_pool(settings.database, max_size=1)
    ensure_schema(pool, "reissue")
    pool.close()
    application = new_app(settings)
    yield application
    application.close()


def submitted(app, number: str, when: datetime) -> uuid.UUID:
    application = app.start(HOLDER, certificate(number), "lost")
    for material in ("photo", "commitment_letter"):
        app.attach(HOLDER, application.id, material, "a" * 64, "image/jpeg", 10)
    app.submit(HOLDER, application.id, when)
    return application.id


def test_two_starts_for_one_certificate_at_once_open_one_application(app, settings):
    other = new_app(settings)
    outcomes: list[object] = [None, None]
    barrier = threading.Barrier(2)

    def start(index: int, on: ReissueApplication) -> None:
        barrier.wait()
        try:
            outcomes[index] = on.start(HOLDER, certificate("N-1"), "lost")
        except Conflict as refusal:
            outcomes[index] = refusal.code

    threads = [
        threading.Thread(target=start, args=(0, app)),
        threading.Thread(target=start, args=(1, other)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()

    assert sorted(map(str, outcomes)).count("application_open") == 1
    with pytest.raises(Conflict) as refused:
        app.start(HOLDER, certificate("N-1"), "damaged")
    assert refused.value.code == "application_open"


def test_submitting_needs_the_required_materials(app):
    application = app.start(HOLDER, certificate("N-2"), "lost")
    app.attach(HOLDER, application.id, "photo", "b" * 64, "image/jpeg", 10)

    with pytest.raises(Invalid) as refused:
        app.submit(HOLDER, application.id, at("2026-12-03"))

    assert refused.value.code == "materials_missing"
    assert "个人承诺书" in refused.value.message


def test_each_resubmission_starts_the_review_clock_again(app):
    application_id = submitted(app, "N-3", at("2026-12-03"))  # a Thursday
    assert app.application(application_id).review_due.isoformat() == "2026-12-08"

    app.return_to_holder(
        REVIEWER, application_id, "照片不清晰", ["photo"], at("2026-12-04")
    )
    with pytest.raises(Conflict) as refused:
        app.approve(REVIEWER, application_id, at("2026-12-04"))
    assert refused.value.code == "returned_to_holder"
    app.submit(HOLDER, application_id, at("2026-12-07"))

    assert app.application(application_id).review_due.isoformat() == "2026-12-10"
    assert app.application(application_id).state == State.SUBMITTED


def test_a_reviewer_names_only_materials_or_fields_that_exist(app):
    application_id = submitted(app, "N-4", at("2026-12-03"))

    with pytest.raises(Invalid) as refused:
        app.return_to_holder(
            REVIEWER, application_id, "?", ["signature"], at("2026-12-03")
        )

    assert refused.value.code == "unknown_problem"


def test_approvals_join_this_months_batch_until_its_closing_day(app):
    on_closing_day = submitted(app, "N-5", at("2026-12-03"))
    after_it = submitted(app, "N-6", at("2026-12-03"))

    assert app.approve(REVIEWER, on_closing_day, at("2026-12-25")) == "2026-12"
    assert app.approve(REVIEWER, after_it, at("2026-12-26")) == "2027-01"


def test_an_approval_after_an_early_close_joins_the_next_batch(app):
    first = submitted(app, "N-7", at("2026-12-03"))
    second = submitted(app, "N-8", at("2026-12-03"))
    app.approve(REVIEWER, first, at("2026-12-04"))
    closed = app.close_batch("2026-12", at("2026-12-04", 15))

    assert app.approve(REVIEWER, second, at("2026-12-04", 16)) == "2027-01"
    assert [entry["certificate_number"] for entry in closed.export] == ["N-7"]
    assert app.batches_due(at("2027-01-26").date()) == ["2027-01"]


def racing(app, other_writer):
    """Make `app`'s next save come just after `other_writer` changed the batch."""
    real_save = app.save
    raced: list = []

    def save(*aggregates, **kwargs):
        if not raced:
            raced.append(other_writer())
        return real_save(*aggregates, **kwargs)

    app.save = save
    return raced


def test_an_approval_that_loses_the_race_to_the_close_joins_the_next_batch(
    app, settings
):
    other = new_app(settings)
    first = submitted(app, "N-20", at("2026-12-03"))
    second = submitted(app, "N-21", at("2026-12-03"))
    app.approve(REVIEWER, first, at("2026-12-04"))
    raced = racing(app, lambda: other.close_batch("2026-12", at("2026-12-04", 15)))

    period = app.approve(REVIEWER, second, at("2026-12-04", 15))

    other.close()
    assert raced and period == "2027-01"
    assert [entry["certificate_number"] for entry in raced[0].export] == ["N-20"]


def test_a_close_that_loses_the_race_to_an_approval_sends_it_along(app, settings):
    other = new_app(settings)
    first = submitted(app, "N-22", at("2026-12-03"))
    second = submitted(app, "N-23", at("2026-12-03"))
    app.approve(REVIEWER, first, at("2026-12-04"))
    raced = racing(app, lambda: other.approve(REVIEWER, second, at("2026-12-04", 14)))

    closed = app.close_batch("2026-12", at("2026-12-04", 15))

    other.close()
    assert raced == ["2026-12"]
    assert sorted(e["certificate_number"] for e in closed.export) == ["N-22", "N-23"]


def test_arrivals_count_once_and_report_what_the_batch_never_held(app):
    application_id = submitted(app, "N-9", at("2026-12-03"))
    app.approve(REVIEWER, application_id, at("2026-12-04"))
    with pytest.raises(UnknownBatch):  # not yet sent to the ministry
        app.record_arrival("2026-12", "m-1", at("2026-12-14"), ["N-9"])
    app.close_batch("2026-12", at("2026-12-04", 15))

    first = app.record_arrival("2026-12", "m-1", at("2026-12-14"), ["N-9", "X-1"])
    again = app.record_arrival("2026-12", "m-1", at("2026-12-14"), ["N-9", "X-1"])
    repeated = app.record_arrival("2026-12", "m-2", at("2026-12-16"), ["N-9"])

    assert (first.recorded, first.unknown) == (["N-9"], ["X-1"])
    assert first.sync_due.isoformat() == "2026-12-21"  # 5 working days after Monday
    assert again.duplicate
    assert (repeated.recorded, repeated.already_arrived) == ([], ["N-9"])
    application = app.application(application_id)
    assert (application.state, application.sync_due) == (State.ARRIVED, first.sync_due)
    with pytest.raises(UnknownBatch):
        app.record_arrival("2031-01", "m-3", at("2026-12-14"), ["N-9"])


def test_a_synced_reissue_closes_the_application_so_another_may_start(app):
    application_id = submitted(app, "N-10", at("2026-12-03"))
    app.approve(REVIEWER, application_id, at("2026-12-04"))
    with pytest.raises(Conflict) as refused:
        app.sync(REVIEWER, [application_id], at("2026-12-05"))
    assert refused.value.code == "not_arrived"
    app.close_batch("2026-12", at("2026-12-04", 15))
    app.record_arrival("2026-12", "m-1", at("2026-12-14"), ["N-10"])

    assert app.sync(REVIEWER, [application_id], at("2026-12-15")) == ["N-10"]
    assert app.sync(REVIEWER, [application_id], at("2026-12-15")) == []
    assert app.start(HOLDER, certificate("N-10"), "lost").state == State.DRAFT


def test_a_withdrawn_application_frees_its_certificate(app):
    application_id = submitted(app, "N-11", at("2026-12-03"))

    app.withdraw(HOLDER, application_id, at("2026-12-04"))

    assert app.application(application_id).state == State.WITHDRAWN
    assert app.start(HOLDER, certificate("N-11"), "damaged").state == State.DRAFT


def test_another_holders_application_is_not_found(app):
    application = app.start(HOLDER, certificate("N-12"), "lost")

    with pytest.raises(Exception) as refused:
        app.application_of(uuid.uuid4(), application.id)

    assert refused.value.code == "application_not_found"


def test_the_review_queue_and_its_overdue_count_follow_the_published_facts(
    app, settings
):
    on_time = submitted(app, "N-20", at("2026-12-03"))
    late = submitted(app, "N-21", at("2026-11-30"))
    returned = submitted(app, "N-22", at("2026-11-30"))
    app.return_to_holder(REVIEWER, returned, "请补充材料", ["reason"], at("2026-12-01"))
    pool = open_pool(settings.database, max_size=2)
    ensure_schema(pool, "reissue_read")
    views = ApplicationViews(pool, "reissue_read")
    views.setup()
    # The relay's messages, delivered newest first: later versions wait for earlier.
    for application_id in (on_time, late, returned):
        for domain_event in reversed(app.history(application_id)):
            envelope = envelope_for(domain_event, "reissue", publication)
            if envelope is not None:
                views.handle(envelope)

    queue = [row["certificate_number"] for row in views.waiting_for_review()]
    overdue = views.overdue_reviews(at("2026-12-04").date())
    pool.close()

    assert queue == ["N-21", "N-20"]  # by deadline; the returned one is with the person
    assert overdue == 1  # N-21 was due on 2026-12-03
