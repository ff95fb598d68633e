"""2. The applicants' read model under load: `GET /v1/me/certificates`.

Many applicants' valid tokens, taken in turn by every connection. Baseline: a
Nameko HTTP entrypoint answering a constant (bench/baseline_service.py), under
the same tool and concurrency.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from bench import clients, wrk
from bench.figures import Comparison, Figure, Section, at_least, below
from bench.holders import distinct_people, signed_in
from bench.product import Product, peak_memory_mb
from bench.profiling import Profiler
from bench.sizes import Sizes
from tests.support.holders import certificates_of
from tests.support.infrastructure import eventually
from tests.support.processes import ROOT, free_port
from tools.exam_authority import Broker, publish, results_message, sample_candidates

log = logging.getLogger(__name__)

PATH = "/v1/me/certificates"
BASELINE_PATH = "/v1/constant"


class BaselineService:
    """bench/baseline_service.py as a process of its own."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.baseline_service"],
                cwd=ROOT,
                env={**os.environ, "BENCH_BASELINE_PORT": str(self.port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        eventually(self._answers, timeout=60, what="the baseline service")

    def peak_memory_mb(self) -> float:
        return peak_memory_mb(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)

    def _answers(self) -> bool:
        try:
            return requests.get(self.url + BASELINE_PATH, timeout=2).ok
        except requests.ConnectionError:
            return False


def run(
    product: Product,
    sizes: Sizes,
    ingested: list[dict[str, Any]],
    profiler: Profiler,
) -> tuple[Section, float]:
    """The section, and the baseline process's peak memory (for the memory table)."""
    identity, certificates = product.start("identity", "certificates")
    tokens = _tokens(product, sizes, ingested)
    baseline = BaselineService(product.logs / "baseline.log")
    try:
        with profiler.watching("read_model", certificates.process.pid):
            measured = _measure(certificates.url, baseline.url, tokens, sizes)
        baseline_memory = baseline.peak_memory_mb()
    finally:
        baseline.stop()
    section = _section(sizes, *measured)
    section.profile = profiler.findings.get("read_model", [])
    return section, baseline_memory


def _tokens(product: Product, sizes: Sizes, ingested: list[dict[str, Any]]) -> list:
    people = distinct_people(ingested)
    if len(people) < sizes.readers:
        people = _publish_readers(product, sizes)
    step = max(1, len(people) // sizes.readers)
    chosen = people[::step][: sizes.readers]
    log.info("signing in %s applicants through identity", len(chosen))
    holders = signed_in(product["identity"].url, chosen)
    for holder in holders:  # their verification must reach certificates first
        certificates_of(product["certificates"].url, holder)
    return [holder.access_token for holder in holders]


def _publish_readers(product: Product, sizes: Sizes) -> list[dict[str, Any]]:
    candidates = sample_candidates("bench-readers", sizes.readers * 2)
    publish(
        Broker(product.vhost.amqp_uri), results_message("bench-readers", candidates)
    )
    return distinct_people(candidates)


def _measure(product_url: str, baseline_url: str, tokens: list, sizes: Sizes):
    loads: dict[str, list[clients.Load]] = {"product": [], "baseline": []}
    targets = {"product": product_url + PATH, "baseline": baseline_url + BASELINE_PATH}
    for url in targets.values():  # warm both up: pools, imports, caches
        _load(url, tokens, sizes, sizes.seconds / 5)
    for repetition in range(sizes.repeat):
        for name, url in targets.items():
            loads[name].append(_load(url, tokens, sizes, sizes.seconds))
        log.info(
            "read repetition %s: %.0f req/s (baseline %.0f)",
            repetition + 1,
            loads["product"][-1].requests_per_second,
            loads["baseline"][-1].requests_per_second,
        )
    return loads["product"], loads["baseline"]


def _load(url: str, tokens: list, sizes: Sizes, seconds: float) -> clients.Load:
    base, _, path = url.partition("/v1/")
    path = "/v1/" + path
    if wrk.available():
        return wrk.load(base, path, tokens, sizes.connections, seconds)
    return clients.steady(base, path, tokens, sizes.connections, seconds)


def _section(sizes: Sizes, product: list, baseline: list) -> Section:
    rate = Comparison(
        Figure(f"{PATH}, {sizes.connections} connections", "req/s"),
        Figure(f"constant Nameko entrypoint, {sizes.connections} connections", "req/s"),
    )
    rate.product.runs = [load.requests_per_second for load in product]
    rate.baseline.runs = [load.requests_per_second for load in baseline]
    figures = []
    for who, loads in (("product", product), ("baseline", baseline)):
        for share in ("p50", "p90", "p99"):
            figure = Figure(f"{who} latency {share}", "ms")
            figure.runs = [getattr(load, f"{share}_ms") for load in loads]
            figures.append(figure)
        failed = Figure(f"{who} failed requests (non-200 or socket error)", "count")
        failed.runs = [float(load.failures) for load in loads]
        figures.append(failed)
    p99 = figures[2].median
    tool = product[0].tool
    notes = [
        f"Load tool: {tool}, on the same two cores as the service it loads.",
        f"{sizes.readers} applicants signed in through identity; every request "
        "carries the next applicant's token.",
    ]
    if tool != "wrk":
        notes.append(wrk.INSTALL_HINT + ".")
    return Section(
        "read_model",
        "2. Read model under load: GET /v1/me/certificates",
        {
            "readers": sizes.readers,
            "connections": sizes.connections,
            "seconds": sizes.seconds,
        },
        comparisons=[rate],
        figures=figures,
        goals=[
            at_least(rate.ratio, 0.7, "the constant entrypoint's req/s"),
            below(p99, 100, "ms", "p99"),
        ],
        notes=notes,
    )
