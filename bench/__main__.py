"""python -m bench: run the benchmarks and write their report to bench/results/.

python -m bench                  # every benchmark at its default size
python -m bench --tiny           # seconds, for the test that keeps them working
python -m bench --only ingest --only read_model --candidates 20000
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from bench import crowd, ingest, machine, reads, rebuild, report, spine
from bench.figures import Figure, Goal, Section
from bench.product import Product
from bench.profiling import Profiler
from bench.sizes import DEFAULT, TINY, Sizes

log = logging.getLogger("bench")

NAMES = ("ingest", "read_model", "memory", "flash_crowd", "rebuild", "spine")
RESULTS = Path(__file__).resolve().parent / "results"
MEMORY_LIMIT_MB = 150


def main(argv: list[str] | None = None) -> Path:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sizes = (TINY if args.tiny else DEFAULT).with_overrides(
        **{k: v for k, v in vars(args).items() if v is not None}
    )
    chosen = args.only or list(NAMES)
    profiler = Profiler(args.profile)
    began = time.monotonic()
    run = {
        "started_at": datetime.now(UTC).isoformat(),
        "tiny": args.tiny,
        "machine": machine.describe(),
        "sizes": {f.name: getattr(sizes, f.name) for f in fields(sizes)},
    }
    name = "tiny" if args.tiny else "latest"
    sections: list[Section] = []
    # Written again after every benchmark: a failure late in a long run keeps
    # the figures measured before it.
    for finished in _run(chosen, sizes, profiler):
        sections += finished
        run["finished_at"] = datetime.now(UTC).isoformat()
        run["seconds"] = round(time.monotonic() - began, 1)
        written = report.write(args.results, name, run, sections)
    print(f"report written to {written}")
    return written


def _run(
    chosen: list[str], sizes: Sizes, profiler: Profiler
) -> Iterator[list[Section]]:
    if {"ingest", "read_model", "memory"} & set(chosen):
        yield _ingest_and_reads(chosen, sizes, profiler)
    if "flash_crowd" in chosen:
        yield [crowd.run(sizes, profiler)]
    if "rebuild" in chosen:
        yield [rebuild.run(sizes, profiler)]
    if "spine" in chosen:
        yield [spine.run(sizes)]


def _ingest_and_reads(
    chosen: list[str], sizes: Sizes, profiler: Profiler
) -> list[Section]:
    """1 and 2 share their service processes, so 6 can report their peak memory."""
    sections: list[Section] = []
    ingested: list = []
    baseline_memory = None
    with Product(XJCERT_INGEST_BATCH_SIZE=str(sizes.ingest_batch)) as product:
        if "ingest" in chosen:
            section, ingested = ingest.run(product, sizes, profiler)
            sections.append(section)
        if "read_model" in chosen or "memory" in chosen:
            section, baseline_memory = reads.run(product, sizes, ingested, profiler)
            if "read_model" in chosen:
                sections.append(section)
        if "memory" in chosen:
            sections.append(_memory(product.peak_memory_mb(), baseline_memory))
    return sections


def _memory(peaks: dict[str, float], baseline: float | None) -> Section:
    section = Section(
        "memory",
        "6. Peak resident memory of the service processes during 1 and 2",
        {},
        figures=[Figure(f"{name} (VmHWM)", "MB", [mb]) for name, mb in peaks.items()],
        goals=[
            Goal(f"{name} < {MEMORY_LIMIT_MB} MB", f"{mb:.0f} MB", mb < MEMORY_LIMIT_MB)
            for name, mb in peaks.items()
        ],
        notes=[
            "Read once from /proc/<pid>/status (VmHWM) after both benchmarks, in "
            "MB of 10^6 bytes; one process per service.",
        ],
    )
    if baseline is not None:
        section.figures.append(
            Figure("baseline: constant Nameko entrypoint (VmHWM)", "MB", [baseline])
        )
    return section


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (the test)")
    parser.add_argument("--only", action="append", choices=NAMES)
    parser.add_argument("--profile", action="store_true", help="py-spy the load")
    parser.add_argument("--results", type=Path, default=RESULTS)
    for field in fields(Sizes):
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            type=type(field.default),
            help=f"default {field.default:,}",
        )
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
