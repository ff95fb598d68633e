"""The benchmarks at a tiny size, against the real services: they must keep working.

No timing is asserted here; `make bench` is where the figures are judged. What
must hold at any size: every section reports numbers, and the flash crowd gets
exactly as many confirmations as there are seats, every other answer "full".
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from bench.__main__ import NAMES
from bench.sizes import TINY
from tests.support.privacy import ID_NUMBER, MOBILE
from tests.support.processes import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    results = tmp_path_factory.mktemp("bench-results")
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--results", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert (results / "tiny.md").read_text().startswith("# Benchmarks")
    return json.loads((results / "tiny.json").read_text())


def sections(report: dict) -> dict[str, dict]:
    return {section["name"]: section for section in report["sections"]}


def numbers_of(section: dict) -> list[float]:
    found = [c["ratio"] for c in section["comparisons"]]
    for comparison in section["comparisons"]:
        found += comparison["product"]["runs"] + comparison["baseline"]["runs"]
    for figure in section["figures"]:
        found += figure["runs"]
    return found


def test_every_benchmark_reports_numbers_and_judges_its_goals(report):
    by_name = sections(report)

    assert sorted(by_name) == sorted(NAMES)
    for name, section in by_name.items():
        numbers = numbers_of(section)
        assert numbers, name
        assert all(isinstance(n, int | float) and math.isfinite(n) for n in numbers)
        assert section["goals"], name
        assert all(isinstance(goal["met"], bool) for goal in section["goals"])
    for comparison in by_name["ingest"]["comparisons"]:
        assert len(comparison["product"]["runs"]) == TINY.repeat
        assert comparison["ratio"] > 0
    assert report["machine"]["cores"] >= 1
    assert report["machine"]["memory_gib"] > 0


def test_the_flash_crowd_confirms_exactly_the_seats_and_calls_the_rest_full(report):
    figures = {
        f["label"]: f["runs"] for f in sections(report)["flash_crowd"]["figures"]
    }

    assert figures["answers: confirmed"] == [TINY.seats] * TINY.repeat
    assert figures["answers: full"] == [TINY.crowd - TINY.seats] * TINY.repeat
    assert figures["answers: anything else"] == [0] * TINY.repeat


def test_the_report_holds_no_id_numbers_or_phone_numbers(report):
    text = json.dumps(report, ensure_ascii=False)

    assert ID_NUMBER.search(text) is None
    assert MOBILE.search(text) is None
