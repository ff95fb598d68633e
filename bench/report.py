"""The report of a run: Markdown for people, JSON for programs, in bench/results/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.figures import Section

CAVEAT = (
    "Everything runs on this one machine: the services, PostgreSQL, RabbitMQ, the "
    "load tools and the baselines share its cores, so each figure is compared with "
    "a baseline measured in the same run, not with another machine's numbers."
)

PROFILE_HEADING = (
    "Profile of the loaded process during the first repetition (py-spy, 50 samples "
    "a second for up to 20 s, busy samples only):"
)


def write(folder: Path, name: str, run: dict[str, Any], sections: list[Section]):
    folder.mkdir(parents=True, exist_ok=True)
    document = {**run, "sections": [section.to_dict() for section in sections]}
    (folder / f"{name}.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    )
    (folder / f"{name}.md").write_text(markdown(run, sections))
    return folder / f"{name}.md"


def markdown(run: dict[str, Any], sections: list[Section]) -> str:
    lines = [f"# Benchmarks, {run['finished_at'][:16].replace('T', ' ')} UTC", ""]
    lines += _machine(run) + [""]
    lines += ["## Summary", ""] + summary_table(sections) + [""]
    for section in sections:
        lines += _section(section) + [""]
    return "\n".join(lines)


def summary_table(sections: list[Section]) -> list[str]:
    rows = [
        "| benchmark | product | baseline | ratio | goal | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for section in sections:
        first = section.comparisons[0] if section.comparisons else None
        product = _value(first.product.median, first.product.unit) if first else ""
        baseline = _value(first.baseline.median, first.baseline.unit) if first else ""
        ratio = f"{first.ratio:.0%}" if first else ""
        title = section.title
        for goal in section.goals:
            result = "met" if goal.met else "**missed**"
            rows.append(
                f"| {title} | {product} | {baseline} | {ratio} | "
                f"{goal.text} | {goal.value}: {result} |"
            )
            title = product = baseline = ratio = ""
    return rows


def _machine(run: dict[str, Any]) -> list[str]:
    machine = run["machine"]
    libraries = ", ".join(f"{k} {v}" for k, v in machine["libraries"].items())
    sizes = ", ".join(f"{k} {v:,}" for k, v in run["sizes"].items())
    return [
        f"Machine: {machine['cores']} cores, {machine['memory_gib']} GiB of memory, "
        f"{machine['processor']}, Linux {machine['kernel']}; Python "
        f"{machine['python']}, PostgreSQL {machine['postgresql']}, RabbitMQ "
        f"{machine['rabbitmq']}; {libraries}.",
        "",
        f"Sizes: {sizes}. Every figure is the median of {run['sizes']['repeat']} "
        f"repetitions unless it says otherwise. Run took "
        f"{run['seconds'] / 60:.1f} minutes.",
        "",
        CAVEAT,
    ]


def _section(section: Section) -> list[str]:
    lines = [f"## {section.title}", ""]
    if section.comparisons or section.figures:
        lines += ["| figure | median | runs |", "| --- | --- | --- |"]
    shown: set[int] = set()
    for comparison in section.comparisons:
        for figure in (comparison.product, comparison.baseline):
            if id(figure) not in shown:
                lines.append(_figure_row(figure))
                shown.add(id(figure))
        lines.append(
            f"| ratio: {comparison.product.label} ÷ {comparison.baseline.label} | "
            f"**{comparison.ratio:.0%}** | |"
        )
    lines += [_figure_row(figure) for figure in section.figures]
    lines.append("")
    for goal in section.goals:
        verdict = "met" if goal.met else "**MISSED**"
        lines.append(f"- Goal {goal.text}: {goal.value}, {verdict}.")
    lines += [f"- {note}" for note in section.notes]
    if section.profile:
        lines += ["", PROFILE_HEADING, "", "```"]
        lines += section.profile + ["```"]
    return lines


def _figure_row(figure) -> str:
    runs = ", ".join(_number(run) for run in figure.runs)
    return f"| {figure.label} | {_value(figure.median, figure.unit)} | {runs} |"


def _value(number: float, unit: str) -> str:
    return f"{_number(number)} {unit}"


def _number(number: float) -> str:
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.1f}"
