"""The rebuild command reproduces the applicants' read model exactly."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.holders import certificates_of, verified_holder
from tests.support.infrastructure import environment_for, eventually
from tests.support.processes import ROOT
from tools.exam_authority import Broker, publish, results_message, sample_candidates

ALL_ROWS = "SELECT * FROM certificates_read.applicant_certificates ORDER BY 1"
ROWS = "SELECT count(*) FROM certificates_read.applicant_certificates"
ACCOUNTS = "SELECT * FROM certificates_read.verified_accounts ORDER BY 1"


def all_rows(database, query: str = ALL_ROWS) -> list[tuple]:
    with database.connect() as conn:
        return conn.execute(query).fetchall()


def test_rebuild_reproduces_the_read_models_exactly(
    start_certificates, start_identity, database, vhost
):
    certificates, identity = start_certificates(), start_identity()
    broker = Broker(vhost.amqp_uri)
    for session, level in (("2025-cons", "二级"), ("2025-nurse", "初级")):
        qualification = "constructor" if session == "2025-cons" else "nurse"
        candidates = sample_candidates(session, 400, xpcc=3)
        publish(broker, results_message(session, candidates, qualification, level))
    eventually(lambda: database.scalar(ROWS) == 800, what="800 rows")
    holder = verified_holder(
        identity.url, candidates[7]["name"], candidates[7]["id_number"]
    )
    mine_before = certificates_of(certificates.url, holder)
    before = all_rows(database)
    accounts_before = all_rows(database, ACCOUNTS)
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
    eventually(lambda: all_rows(database, ACCOUNTS) == accounts_before)
    assert certificates_of(certificates.url, holder) == mine_before
