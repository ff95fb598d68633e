"""1. Ingest: exam results over plain AMQP until the applicants' read model has them.

Baselines, on the same candidates: the same Certificate aggregates saved straight
into the certificates application in batches, and the same rows written with
psycopg in one transaction.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

from psycopg import sql

from bench.figures import Comparison, Figure, Section, at_least
from bench.product import Product
from bench.profiling import Profiler
from bench.sizes import Sizes
from services.certificates.application import CertificatesApplication
from services.certificates.catalogue import qualification
from services.certificates.domain import Certificate
from services.common.eventstore import event_store_env
from services.common.identifiers import certificate_id
from tests.support.infrastructure import eventually
from tools.exam_authority import Broker, publish, results_message, sample_candidates

log = logging.getLogger(__name__)

READ_ROWS = "SELECT count(*) FROM certificates_read.applicant_certificates"
QUALIFICATION = "economist"
LEVEL = "中级"
EXAM_END = "2025-11-09"


def sessions(repetition: int, sizes: Sizes) -> list[tuple[str, list[dict[str, Any]]]]:
    """The candidates of one repetition, as `messages` exam sessions."""
    per_message = sizes.candidates // sizes.messages
    named = [f"bench{repetition}-s{m:02d}" for m in range(sizes.messages)]
    return [(name, sample_candidates(name, per_message)) for name in named]


def run(
    product: Product, sizes: Sizes, profiler: Profiler
) -> tuple[Section, list[dict[str, Any]]]:
    """The section, and the candidates now in the read model (for the read test)."""
    (certificates,) = product.start("certificates")
    pipeline = Figure("pipeline: results published → rows in the read model", "cert/s")
    store = Figure(f"bare event store, batches of {sizes.ingest_batch}", "cert/s")
    rows = Figure("psycopg executemany, one transaction", "cert/s")
    ingested: list[dict[str, Any]] = []
    for repetition in range(sizes.repeat):
        batch = sessions(repetition, sizes)
        count = sum(len(candidates) for _, candidates in batch)
        with profiler.watching("ingest", certificates.process.pid):
            pipeline.runs.append(count / _through_pipeline(product, batch))
        store.runs.append(count / _into_event_store(product, repetition, batch, sizes))
        rows.runs.append(count / _into_table(product, repetition, batch))
        ingested += [c for _, candidates in batch for c in candidates]
        log.info("ingest repetition %s: %.0f cert/s", repetition + 1, pipeline.runs[-1])
    section = Section(
        "ingest",
        "1. Ingest: exam results to the applicants' read model",
        {"candidates": sizes.candidates, "messages": sizes.messages},
        comparisons=[Comparison(pipeline, store), Comparison(pipeline, rows)],
        notes=[
            "Pipeline time runs from the first results message published until "
            "the read model counts every candidate (polled every 0.1 s).",
            "The baselines build the same Certificate aggregates (or rows) and "
            "include that in their time.",
        ],
    )
    section.goals.append(
        at_least(section.comparisons[0].ratio, 0.5, "the batched event store")
    )
    section.profile = profiler.findings.get("ingest", [])
    return section, ingested


def _through_pipeline(product: Product, batch: list) -> float:
    broker = Broker(product.vhost.amqp_uri)
    target = product.scalar(READ_ROWS) + sum(len(c) for _, c in batch)
    began = time.perf_counter()
    for session, candidates in batch:
        publish(broker, results_message(session, candidates, QUALIFICATION, LEVEL))
    eventually(
        lambda: product.scalar(READ_ROWS) >= target,
        timeout=3600,
        interval=0.1,
        what="every candidate in the read model",
    )
    return time.perf_counter() - began


def _into_event_store(
    product: Product, repetition: int, batch: list, sizes: Sizes
) -> float:
    schema = f"bench_store_{repetition}"
    _create_schema(product, schema)
    app = CertificatesApplication(env=event_store_env(product.settings, schema))
    try:
        began = time.perf_counter()
        for session, candidates in batch:
            for start in range(0, len(candidates), sizes.ingest_batch):
                chunk = candidates[start : start + sizes.ingest_batch]
                app.save(*(certificate_for(session, c) for c in chunk))
        return time.perf_counter() - began
    finally:
        app.close()


def certificate_for(session: str, candidate: dict[str, Any]) -> Certificate:
    return Certificate.register(
        certificate_number=candidate["certificate_number"],
        holder_id_number=candidate["id_number"],
        holder_name=candidate["name"],
        qualification=qualification(QUALIFICATION),
        level=LEVEL,
        specialty=None,
        exam_session_id=session,
        exam_end_date=date.fromisoformat(EXAM_END),
        registration_place=candidate["registration_place"],
    )


def _into_table(product: Product, repetition: int, batch: list) -> float:
    schema = sql.Identifier(f"bench_rows_{repetition}")
    with product.database.connect() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.applicant_certificates (LIKE "
                "certificates_read.applicant_certificates INCLUDING ALL)"
            ).format(schema)
        )
        insert = sql.SQL(
            "INSERT INTO {}.applicant_certificates (certificate_id, "
            "holder_id_number, holder_name, certificate_number, qualification_code, "
            "qualification_name, level, kind, exam_session_id, exam_end_date, "
            "custody_until, registration_place, state, version, updated_at) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, now())"
        ).format(schema)
        began = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(insert, [_row(s, c) for s, cs in batch for c in cs])
        return time.perf_counter() - began


def _row(session: str, candidate: dict[str, Any]) -> tuple:
    return (
        str(certificate_id(candidate["certificate_number"])),
        candidate["id_number"],
        candidate["name"],
        candidate["certificate_number"],
        QUALIFICATION,
        "经济专业技术资格",
        LEVEL,
        "national_paper",
        session,
        EXAM_END,
        "2030-11-09",
        candidate["registration_place"],
        "in_custody",
    )


def _create_schema(product: Product, schema: str) -> None:
    with product.database.connect() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
