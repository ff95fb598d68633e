"""3. A flash crowd on pickup windows: many holders book one window at once.

Each holder has a verified account and one paper certificate in custody; all ask
for the same window at the same moment, each on its own connection. Exactly
`seats` must be confirmed and every other answer must be "full" (409
`window_full`). Baseline: the bare event store saving one aggregate per
transaction, as fast as it can.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from eventsourcing.domain import Aggregate
from psycopg import sql

from bench import clients
from bench.figures import Comparison, Figure, Goal, Section, at_least, percentile
from bench.holders import bearer, distinct_people, enrolled
from bench.product import Product
from bench.profiling import Profiler
from bench.sizes import Sizes
from services.common.eventstore import ServiceApplication, event_store_env
from tests.support.infrastructure import eventually
from tools.exam_authority import Broker, publish, results_message, sample_candidates

log = logging.getLogger(__name__)

FULL = "window_full"
CUSTODIES = "SELECT count(*) FROM distribution_read.custody"
ACCOUNTS = "SELECT count(*) FROM distribution_read.verified_accounts"


class Reservation(Aggregate):
    """A bare aggregate: one created event, nothing else."""


class BareStore(ServiceApplication):
    name = "BareStore"


def run(sizes: Sizes, profiler: Profiler) -> Section:
    seats = sizes.seats
    with Product(XJCERT_PICKUP_CAPACITY=str(seats)) as product:
        product.start("identity", "certificates", "distribution")
        crowds = [_crowd_ready(product, r, sizes) for r in range(sizes.repeat)]
        windows = _windows(product, crowds[0][0], sizes.repeat)
        tallies = []
        for crowd, window in zip(crowds, windows, strict=True):
            with profiler.watching("flash_crowd", product["distribution"].process.pid):
                tallies.append(_rush(product, crowd, window))
        saves = [_bare_saves(product, r, sizes.crowd) for r in range(sizes.repeat)]
    section = _section(sizes, tallies, saves)
    section.profile = profiler.findings.get("flash_crowd", [])
    return section


def _crowd_ready(product: Product, repetition: int, sizes: Sizes) -> list[tuple]:
    """(token, certificate number) of `crowd` holders, each with one in custody."""
    session = f"bench-crowd{repetition}"
    candidates = sample_candidates(session, sizes.crowd + sizes.crowd // 20 + 5)
    people = distinct_people(candidates)[: sizes.crowd]
    publish(Broker(product.vhost.amqp_uri), results_message(session, people))
    tokens = enrolled(product.settings, people)
    expected = (repetition + 1) * sizes.crowd
    for query, what in ((CUSTODIES, "custodies"), (ACCOUNTS, "verified accounts")):
        eventually(
            lambda q=query: product.scalar(q) >= expected,
            timeout=600,
            what=f"distribution to hold the crowd's {what}",
        )
    log.info("crowd %s ready: %s holders", repetition + 1, len(tokens))
    return list(zip(tokens, [p["certificate_number"] for p in people], strict=True))


def _windows(product: Product, holder: tuple, count: int) -> list[str]:
    """The first `count` open windows: one fresh window per repetition."""
    answer = clients.crowd(
        product["distribution"].url,
        [("GET", "/v1/pickup/windows?days=30", bearer(holder[0]), None)],
    )[0]
    windows = [w["starts_at"] for w in answer.json()["windows"] if w["seats_left"]]
    return windows[:count]


def _rush(product: Product, crowd: list[tuple], window: str) -> dict[str, Any]:
    requests = [
        (
            "POST",
            "/v1/bookings",
            bearer(token),
            {"certificate_numbers": [number], "starts_at": window},
        )
        for token, number in crowd
    ]
    began = time.perf_counter()
    answers = clients.crowd(product["distribution"].url, requests)
    elapsed = time.perf_counter() - began
    outcomes = Counter(_outcome(answer) for answer in answers)
    log.info("crowd answered in %.1f s: %s", elapsed, dict(outcomes))
    latencies = [answer.seconds * 1000 for answer in answers]
    return {
        "answers_per_second": len(answers) / elapsed,
        "outcomes": outcomes,
        "p50": percentile(latencies, 0.5),
        "p90": percentile(latencies, 0.9),
        "p99": percentile(latencies, 0.99),
    }


def _outcome(answer: clients.Answer) -> str:
    if answer.status == 201:
        return "confirmed"
    if answer.status == clients.CONNECTION_FAILED:
        return f"no answer ({answer.body.decode()})"
    try:
        code = answer.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "unreadable"
    return "full" if (answer.status, code) == (409, FULL) else f"{answer.status} {code}"


def _bare_saves(product: Product, repetition: int, count: int) -> float:
    schema = f"bench_bare_{repetition}"
    with product.database.connect() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    app = BareStore(env=event_store_env(product.settings, schema))
    try:
        began = time.perf_counter()
        for _ in range(count):
            app.save(Reservation())
        return count / (time.perf_counter() - began)
    finally:
        app.close()


def _section(sizes: Sizes, tallies: list[dict], saves: list[float]) -> Section:
    rate = Comparison(
        Figure("booking requests answered", "answers/s"),
        Figure("bare event store, one aggregate per transaction", "saves/s"),
    )
    rate.product.runs = [t["answers_per_second"] for t in tallies]
    rate.baseline.runs = saves
    figures = [
        Figure(f"latency {share}", "ms", [t[share] for t in tallies])
        for share in ("p50", "p90", "p99")
    ]
    for outcome in ("confirmed", "full"):
        runs = [float(t["outcomes"][outcome]) for t in tallies]
        figures.append(Figure(f"answers: {outcome}", "count", runs))
    others = [
        sum(n for k, n in t["outcomes"].items() if k not in ("confirmed", "full"))
        for t in tallies
    ]
    figures.append(Figure("answers: anything else", "count", list(map(float, others))))
    exact = all(
        t["outcomes"]["confirmed"] == sizes.seats
        and t["outcomes"]["full"] == sizes.crowd - sizes.seats
        for t in tallies
    )
    seen = {kind for t in tallies for kind in t["outcomes"]}
    other_kinds = sorted(seen - {"confirmed", "full"})
    notes = [
        f"{sizes.crowd} holders send their booking at the same moment, each on its "
        f"own connection, for one window of {sizes.seats} seats; a fresh window "
        "and a fresh crowd in every repetition.",
        "Holders' accounts, verifications and tokens are recorded in identity's "
        "event store directly (identity's Argon2id hash costs 0.2 s of CPU per "
        "sign-in); bookings go through distribution's HTTP API.",
        "The ratio compares answered booking requests (confirmed or full) per "
        "second with bare single-aggregate saves per second.",
    ]
    if other_kinds:
        notes.append("Other answers seen: " + ", ".join(other_kinds) + ".")
    return Section(
        "flash_crowd",
        "3. Flash crowd on a pickup window",
        {"crowd": sizes.crowd, "seats": sizes.seats},
        comparisons=[rate],
        figures=figures,
        goals=[
            Goal(
                f"exactly {sizes.seats} confirmed, the rest full, nothing else",
                "exact" if exact else "not exact",
                exact,
            ),
            at_least(rate.ratio, 0.5, "bare single-aggregate saves/s"),
        ],
        notes=notes,
    )
