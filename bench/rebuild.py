"""4. Rebuilding the applicants' read model from the stored certificate events.

`services.certificates.rebuild.rebuild`, the operator command's own function,
over `events` stored Certificate events. Baseline: reading and decoding the same
notification log (decompressed, decrypted, made domain events) with nothing else
done.
"""

from __future__ import annotations

import logging
import os
import time

from bench.figures import Comparison, Figure, Section, at_least
from bench.ingest import certificate_for
from bench.product import Product
from bench.profiling import Profiler
from bench.sizes import Sizes
from services.certificates.application import CertificatesApplication
from services.certificates.rebuild import PAGE, rebuild
from services.common.db import ensure_schema, open_pool
from tools.exam_authority import sample_candidates

log = logging.getLogger(__name__)

SERVICE = "certificates"
FILL_BATCH = 2000
SESSION_SIZE = 10_000


def run(sizes: Sizes, profiler: Profiler) -> Section:
    with Product() as product:
        settings = product.settings
        fill = Figure(f"filling: event store, batches of {FILL_BATCH}", "events/s")
        fill.runs.append(sizes.events / _fill(product, sizes.events))
        rebuilt = Figure("rebuild (services.certificates.rebuild)", "events/s")
        decoded = Figure("read and decode the notification log", "events/s")
        raw = Figure("read the notification log, not decoded", "events/s")
        for repetition in range(sizes.repeat):
            with profiler.watching("rebuild", os.getpid()):
                began = time.perf_counter()
                replayed = rebuild(settings, progress=False)
                rebuilt.runs.append(replayed / (time.perf_counter() - began))
            decoded.runs.append(_read(product, decode=True))
            raw.runs.append(_read(product, decode=False))
            log.info(
                "rebuild repetition %s: %.0f events/s (decoding alone %.0f)",
                repetition + 1,
                rebuilt.runs[-1],
                decoded.runs[-1],
            )
    comparison = Comparison(rebuilt, decoded)
    return Section(
        "rebuild",
        "4. Rebuild of the applicants' read model",
        {"events": sizes.events},
        comparisons=[comparison],
        figures=[raw, fill],
        goals=[at_least(comparison.ratio, 0.5, "reading and decoding the log")],
        profile=profiler.findings.get("rebuild", []),
        notes=[
            f"Both read the log {PAGE} notifications at a time; the rebuild also "
            "projects every event into the read model in one transaction.",
        ],
    )


def _fill(product: Product, events: int) -> float:
    settings = product.settings
    pool = open_pool(settings.database, max_size=1)
    ensure_schema(pool, SERVICE)
    pool.close()
    app = CertificatesApplication.from_settings(settings, SERVICE)
    began = time.perf_counter()
    try:
        for start in range(0, events, SESSION_SIZE):
            session = f"bench-rebuild-{start // SESSION_SIZE:04d}"
            candidates = sample_candidates(session, min(SESSION_SIZE, events - start))
            for first in range(0, len(candidates), FILL_BATCH):
                chunk = candidates[first : first + FILL_BATCH]
                app.save(*(certificate_for(session, c) for c in chunk))
    finally:
        app.close()
    elapsed = time.perf_counter() - began
    log.info("filled %s events in %.0f s", events, elapsed)
    return elapsed


def _read(product: Product, decode: bool) -> float:
    app = CertificatesApplication.from_settings(product.settings, SERVICE)
    try:
        began = time.perf_counter()
        position = read = 0
        while notifications := app.recorder.select_notifications(
            start=position, limit=PAGE, inclusive_of_start=False
        ):
            if decode:
                for notification in notifications:
                    app.mapper.to_domain_event(notification)
            position = notifications[-1].id
            read += len(notifications)
        return read / (time.perf_counter() - began)
    finally:
        app.close()
