"""5. Latency along the spine: the ministry's batch_arrived to a claimable certificate.

The sync between them is a staff step (POST /v1/staff/reissue/syncs by a
reviewer), so two stretches are timed and added: (a) batch_arrived published →
the certificate listed for sync; (b) the sync recorded → the holder's read model
shows it claimable (in custody, reissued). One arrival at a time, under light
load: the only other traffic is this benchmark's polling every 10 ms.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from typing import Any

import requests

from bench.figures import Figure, Section, below, percentile
from bench.holders import distinct_people, signed_in
from bench.product import Product
from bench.sizes import Sizes
from tests.support.holders import Holder, certificates_of
from tests.support.infrastructure import eventually
from tests.support.materials import commitment_letter, one_inch_photo
from tests.support.staff import staff_member
from tools.authorities import batch_arrived_message, publish_fact
from tools.exam_authority import Broker, publish, results_message, sample_candidates

log = logging.getLogger(__name__)

# Custody of this session's certificates ended long ago: reissue is allowed.
LONG_AGO = "2019-06-02"
POLL = 0.01
SYNCS = "/v1/staff/reissue/syncs"
PAUSE = 0.2


def run(sizes: Sizes) -> Section:
    materials = tempfile.mkdtemp(prefix="xjcert-bench-materials-")
    with Product(XJCERT_MATERIALS_DIR=materials) as product:
        product.start("identity", "certificates", "distribution", "reissue")
        identity = product["identity"].url
        reviewer = staff_member(identity, product.database, product.vhost, "reviewer")
        admin = staff_member(identity, product.database, product.vhost, "administrator")
        waiting = _approved_reissues(product, reviewer, sizes.arrivals)
        period = waiting[0]["period"]
        closed = _call(product, "reissue", "POST", admin, _batch(period) + "/close")
        assert closed.json()["state"] == "closed", closed.text
        samples = [_arrive_and_sync(product, reviewer, period, r) for r in waiting]
    return _section(sizes, samples)


def _approved_reissues(
    product: Product, reviewer: Holder, count: int
) -> list[dict[str, Any]]:
    session = "bench-spine"
    candidates = sample_candidates(session, count + 5)
    people = distinct_people(candidates)[:count]
    publish(
        Broker(product.vhost.amqp_uri),
        results_message(session, people, "economist", "中级", LONG_AGO),
    )
    holders = signed_in(product["identity"].url, people)
    return [
        _approved(product, reviewer, holder, person["certificate_number"])
        for holder, person in zip(holders, people, strict=True)
    ]


def _approved(product: Product, reviewer: Holder, holder: Holder, number: str):
    certificates_of(product["certificates"].url, holder)
    application_id = _started(product, holder, number)
    path = f"/v1/reissue/applications/{application_id}"
    for material, content in (
        ("photo", one_inch_photo()),
        ("commitment_letter", commitment_letter()),
    ):
        uploaded = requests.put(
            f"{product['reissue'].url}{path}/materials/{material}",
            data=content,
            headers={**holder.auth, "Content-Type": "application/octet-stream"},
            timeout=20,
        )
        assert uploaded.ok, uploaded.text
    submitted = _call(product, "reissue", "POST", holder, f"{path}/submit")
    assert submitted.ok, submitted.text
    review = f"/v1/review/applications/{application_id}/approve"
    approved = _call(product, "reissue", "POST", reviewer, review)
    assert approved.ok, approved.text
    return {
        "holder": holder,
        "number": number,
        "application_id": application_id,
        "period": approved.json()["batch"],
    }


def _started(product: Product, holder: Holder, number: str) -> str:
    body = {"certificate_number": number, "reason": "custody_expired"}

    def attempt() -> str | None:
        answer = _call(
            product, "reissue", "POST", holder, "/v1/reissue/applications", body
        )
        if answer.status_code == 404:  # reissue has not heard of it yet
            return None
        assert answer.status_code == 201, answer.text
        return answer.json()["application_id"]

    return eventually(attempt, what="reissue to know the certificate")


def _arrive_and_sync(
    product: Product, reviewer: Holder, period: str, reissue: dict[str, Any]
) -> tuple[float, float]:
    number = reissue["number"]
    time.sleep(PAUSE)
    began = time.perf_counter()
    arrival = batch_arrived_message(period, [number])
    publish_fact(Broker(product.vhost.amqp_uri), arrival)
    arrived = _until(lambda: number in _to_sync(product, reviewer)) - began

    began = time.perf_counter()
    body = {"application_ids": [reissue["application_id"]]}
    synced = _call(product, "reissue", "POST", reviewer, SYNCS, body)
    assert synced.json() == {"synced": [number]}, synced.text
    holder = reissue["holder"]
    claimable = _until(lambda: _claimable(product, holder, number)) - began
    return arrived, claimable


def _to_sync(product: Product, reviewer: Holder) -> set[str]:
    listed = _call(product, "reissue", "GET", reviewer, SYNCS)
    return {row["certificate_number"] for row in listed.json()["certificates"]}


def _claimable(product: Product, holder: Holder, number: str) -> bool:
    shown = _call(product, "certificates", "GET", holder, "/v1/me/certificates")
    for certificate in shown.json()["certificates"]:
        if certificate["certificate_number"] == number:
            return certificate["state"] == "in_custody" and certificate["reissued"]
    return False


def _until(check: Callable[[], bool], timeout: float = 60) -> float:
    """The moment `check` first held, polling every 10 ms."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if check():
            return time.perf_counter()
        time.sleep(POLL)
    raise AssertionError(f"gave up after {timeout} s")


def _call(
    product: Product, service: str, method: str, who: Holder, path: str, body=None
) -> requests.Response:
    return requests.request(
        method, product[service].url + path, json=body, headers=who.auth, timeout=20
    )


def _batch(period: str) -> str:
    return f"/v1/admin/reissue/batches/{period}"


def _section(sizes: Sizes, samples: list[tuple[float, float]]) -> Section:
    stretches = {
        "(a) batch_arrived published → listed for sync": [a for a, _ in samples],
        "(b) sync recorded → claimable in the holder's view": [b for _, b in samples],
        "(a) + (b)": [a + b for a, b in samples],
    }
    figures = []
    for label, seconds in stretches.items():
        millis = [s * 1000 for s in seconds]
        figures.append(Figure(f"{label}: median", "ms", [percentile(millis, 0.5)]))
        figures.append(Figure(f"{label}: p99", "ms", [percentile(millis, 0.99)]))
    total_median, total_p99 = figures[4].median, figures[5].median
    return Section(
        "spine",
        "5. Latency along the spine: batch_arrived → claimable",
        {"arrivals": sizes.arrivals},
        figures=figures,
        goals=[
            below(total_median, 200, "ms", "median of (a) + (b)"),
            below(total_p99, 1000, "ms", "p99 of (a) + (b)"),
        ],
        notes=[
            "The sync is a staff step in this product: a reviewer records it with "
            "POST /v1/staff/reissue/syncs once the certificate is listed. The "
            "figures time the two automatic stretches around it and their sum, "
            "without the time staff take.",
            f"{sizes.arrivals} arrivals, one at a time, {PAUSE} s apart; each "
            "percentile is over all of them (no repetitions: the arrivals are the "
            "samples). With fewer than 100 arrivals the p99 is the slowest one.",
            "Polling every 10 ms adds up to 10 ms plus one request to each figure.",
        ],
    )
