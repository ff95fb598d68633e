"""Loading a year's working-day calendar into the file the services read.

A year arrives as a file of the calendar's own shape (`{"years": {"2028": ...}}`).
It is merged into each target and the result is read back with the services' own
parser before anything is replaced, so a target is either the old file or a
valid new one. Targets: the file packaged with the services and, in a checkout,
the copy that Kubernetes mounts from a ConfigMap (deploy/base/calendar/).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.workdays import (
    DEFAULT_REGIONAL_FILE,
    RegionalHolidayFileError,
    WorkingCalendar,
)

DEPLOYED_COPY = (
    Path(__file__).resolve().parents[2]
    / "deploy"
    / "base"
    / "calendar"
    / DEFAULT_REGIONAL_FILE.name
)


class YearAlreadyLoaded(ValueError):
    def __init__(self, years: list[str], target: Path) -> None:
        super().__init__(
            f"{target} already has {', '.join(years)}; "
            "pass --replace to overwrite what it says"
        )


@dataclass(frozen=True)
class Loaded:
    target: Path
    years: list[str]


def default_targets() -> list[Path]:
    return [DEFAULT_REGIONAL_FILE] + ([DEPLOYED_COPY] if DEPLOYED_COPY.exists() else [])


def load_years(source: Path, targets: list[Path], replace: bool) -> list[Loaded]:
    """Merge the years of `source` into every target, or change none of them."""
    WorkingCalendar.from_file(source)  # refuse a malformed year before anything
    years = _read(source)["years"]
    merged = {
        target: _merged(_read(target), years, target, replace) for target in targets
    }
    checked = {target: _checked(document) for target, document in merged.items()}
    for target, text in checked.items():
        _replace(target, text)
    return [Loaded(target, sorted(years)) for target in targets]


def _merged(
    document: dict[str, Any], years: dict[str, Any], target: Path, replace: bool
) -> dict[str, Any]:
    present = sorted(set(years) & set(document["years"]))
    if present and not replace:
        raise YearAlreadyLoaded(present, target)
    combined = {**document["years"], **years}
    return {**document, "years": dict(sorted(combined.items()))}


def _checked(document: dict[str, Any]) -> str:
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    with tempfile.TemporaryDirectory() as directory:
        candidate = Path(directory) / DEFAULT_REGIONAL_FILE.name
        candidate.write_text(text, encoding="utf-8")
        WorkingCalendar.from_file(candidate)
    return text


def _replace(target: Path, text: str) -> None:
    # Written beside the target and renamed over it: readers see old or new whole.
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".json")
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, target)


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise RegionalHolidayFileError(f"calendar file {path}: {error}") from error
