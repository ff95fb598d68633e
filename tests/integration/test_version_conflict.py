"""Two writers on one aggregate: exactly one wins; recording results stays exact."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from eventsourcing.persistence import IntegrityError

from services.certificates.application import CertificatesApplication
from services.certificates.catalogue import qualification
from services.certificates.results import ExamResults, ExamSession, PassedCandidate
from services.common.db import ensure_schema, open_pool
from services.common.eventstore import event_store_env
from tests.support.certificates import registered
from tools.exam_authority import sample_candidates


@pytest.fixture
def two_writers(settings):
    pool = open_pool(settings.database, max_size=1)
    ensure_schema(pool, "certificates")
    pool.close()
    apps = [
        CertificatesApplication(env=event_store_env(settings, "certificates"))
        for _ in range(2)
    ]
    yield apps
    for app in apps:
        app.close()


def run_together(*actions) -> list[BaseException | None]:
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException | None] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            actions[index]()
        except BaseException as error:
            errors[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_writers_of_one_certificate_give_exactly_one_conflict(two_writers):
    first, second = two_writers

    errors = run_together(
        lambda: first.save(registered("N-0001")),
        lambda: second.save(registered("N-0001")),
    )

    assert sum(isinstance(e, IntegrityError) for e in errors) == 1
    assert sum(e is None for e in errors) == 1
    assert first.certificate("N-0001").version == 1


def test_the_same_results_recorded_twice_at_once_give_each_certificate_once(
    two_writers,
):
    first, second = two_writers
    session = ExamSession(
        "2025-econ", qualification("economist"), "中级", date(2025, 11, 9)
    )
    results = ExamResults(
        session,
        tuple(
            PassedCandidate(
                c["id_number"], c["name"], c["certificate_number"], "xinjiang"
            )
            for c in sample_candidates("2025-econ", 600)
        ),
    )
    reports = []

    errors = run_together(
        lambda: reports.append(first.record_results(results, batch_size=100)),
        lambda: reports.append(second.record_results(results, batch_size=100)),
    )

    assert errors == [None, None]
    assert sum(r.recorded for r in reports) == 600
    assert first.recorder.max_notification_id() is not None
    assert len(first.recorder.select_notifications(start=1, limit=2000)) == 600
