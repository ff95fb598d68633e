"""The rebuild command reproduces the applicants' read model exactly."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.infrastructure import environment_for, eventually
from tests.support.processes import ROOT
from tools.exam_authority import Broker, publish, results_message, sample_candidates

ALL_ROWS = "SELECT * FROM certificates_read.applicant_certificates ORDER BY 1"
ROWS = "SELECT count(*) FROM certificates_read.applicant_certificates"


def all_rows(database) -> list[tuple]:
    with database.connect() as conn:
        return conn.execute(ALL_ROWS).fetchall()


def test_rebuild_reproduces_the_read_model_exactly(start_certificates, database, vhost):
    start_certificates()
    broker = Broker(vhost.amqp_uri)
    for session, level in (("2025-cons", "二级"), ("2025-nurse", "初级")):
        qualification = "constructor" if session == "2025-cons" else "nurse"
        candidates = sample_candidates(session, 400, xpcc=3)
        publish(broker, results_message(session, candidates, qualification, level))
    eventually(lambda: database.scalar(ROWS) == 800, what="800 rows")
    before = all_rows(database)
    with database.connect() as conn:  # damage it, so the rebuild has work to do
        conn.execute(
            "DELETE FROM certificates_read.applicant_certificates "
            "WHERE certificate_number LIKE '2025-nurse-0001%'"
        )
        conn.execute(
            "UPDATE certificates_read.applicant_certificates SET state = 'lost'"
            " WHERE certificate_number LIKE '2025-cons-0002%'"
        )

    finished = subprocess.run(
        [sys.executable, "-m", "services.certificates.rebuild", "--quiet"],
        cwd=ROOT,
        env={**os.environ, **environment_for(database, vhost)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert finished.returncode == 0, finished.stderr
    assert "rebuilt from 800 recorded events" in finished.stdout
    assert all_rows(database) == before
