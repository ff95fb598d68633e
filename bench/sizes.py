"""How big each benchmark runs: the defaults, the tiny run of the tests, overrides."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Sizes:
    repeat: int = 3  # repetitions of every measurement; the report shows the median
    # 1. ingest
    candidates: int = 100_000
    messages: int = 10
    ingest_batch: int = 1000
    # 2. read model under load
    readers: int = 200  # distinct applicants whose tokens the load cycles through
    connections: int = 50
    seconds: float = 10.0  # each load run; a warm-up of a fifth precedes it
    # 3. flash crowd
    crowd: int = 2000
    seats: int = 200
    # 4. rebuild
    events: int = 1_000_000
    # 5. spine latency
    arrivals: int = 30

    def with_overrides(self, **values: object) -> Sizes:
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in values.items() if k in known})


DEFAULT = Sizes()

# Small enough for `make test`, big enough that every code path runs: two
# repetitions exercise the median, the crowd still outnumbers its seats.
TINY = Sizes(
    repeat=2,
    candidates=600,
    messages=3,
    ingest_batch=100,
    readers=4,
    connections=8,
    seconds=1.0,
    crowd=24,
    seats=6,
    events=3000,
    arrivals=3,
)
