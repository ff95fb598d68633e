"""What a benchmark reports: repeated figures, ratios to baselines, goals."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Figure:
    """One quantity measured `len(runs)` times; the report shows the median."""

    label: str
    unit: str
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "unit": self.unit,
            "median": rounded(self.median),
            "runs": [rounded(run) for run in self.runs],
        }


@dataclass
class Comparison:
    """The product's figure beside its baseline's, measured in the same run."""

    product: Figure
    baseline: Figure

    @property
    def ratio(self) -> float:
        return self.product.median / self.baseline.median

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product.to_dict(),
            "baseline": self.baseline.to_dict(),
            "ratio": rounded(self.ratio),
        }


@dataclass
class Goal:
    text: str
    value: str
    met: bool

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "value": self.value, "met": self.met}


@dataclass
class Section:
    """One benchmark's results, as the report prints them."""

    name: str
    title: str
    sizes: dict[str, Any]
    comparisons: list[Comparison] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "sizes": self.sizes,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "figures": [f.to_dict() for f in self.figures],
            "goals": [g.to_dict() for g in self.goals],
            "notes": self.notes,
            "profile": self.profile,
        }


def rounded(number: float) -> float:
    """Four significant digits: what a benchmark can tell, and short to read."""
    return float(f"{number:.4g}")


def percentile(samples: list[float], fraction: float) -> float:
    """The exact nearest-rank percentile of every sample (no histogram buckets)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def at_least(ratio: float, goal: float, baseline: str) -> Goal:
    return Goal(f"≥ {goal:.0%} of {baseline}", f"{ratio:.0%}", ratio >= goal)


def below(value: float, limit: float, unit: str, what: str) -> Goal:
    return Goal(f"{what} < {limit:g} {unit}", f"{value:.1f} {unit}", value < limit)
