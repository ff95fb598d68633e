"""Known vulnerabilities in the installed dependencies, from pip-audit, as a report.

The report goes to `test-results/pip-audit.json`. A vulnerability fails the test
unless `ACCEPTED` names it with the reason it cannot hurt us here; the way out is
usually to pin the fixed version in pyproject.toml. Where the vulnerability service
cannot be reached (a closed network, or a PyPI mirror without per-release data, so
that every dependency comes back "not found"), the test is skipped with that notice
rather than passing as if the dependencies had been checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.security

REPORT = Path("test-results/pip-audit.json")

# Vulnerability id -> why it cannot hurt this product; empty is the goal.
ACCEPTED: dict[str, str] = {}


def run_pip_audit(report: Path) -> dict[str, Any]:
    """Audit the environment the tests run in (the product's own, editable, aside)."""
    report.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).with_name("pip-audit")),
        "--vulnerability-service",
        "pypi",
        "--skip-editable",
        "--progress-spinner",
        "off",
        "--format",
        "json",
        "--output",
        str(report),
        "--timeout",
        "20",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if not report.exists():
        pytest.skip(
            "pip-audit could not reach its vulnerability service: "
            + (finished.stderr.strip().splitlines() or ["no answer"])[-1]
        )
    return json.loads(report.read_text())


def audited(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [dep for dep in report["dependencies"] if "skip_reason" not in dep]


def unaccepted(report: dict[str, Any]) -> list[str]:
    """Each vulnerability not in ACCEPTED, as 'package version: id (fixed in ...)'."""
    found = []
    for dep in audited(report):
        for vuln in dep.get("vulns", []):
            if vuln["id"] in ACCEPTED:
                continue
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            found.append(f"{dep['name']} {dep['version']}: {vuln['id']} ({fixed})")
    return found


def test_no_installed_dependency_has_an_unaccepted_known_vulnerability():
    report = run_pip_audit(REPORT)
    checked = audited(report)
    print(
        f"pip-audit: {len(report['dependencies'])} dependencies, "
        f"{len(checked)} checked against PyPI's vulnerability data; report in {REPORT}"
    )
    if not checked:
        first = report["dependencies"][0]["skip_reason"] if report else "none"
        pytest.skip(
            "the vulnerability service has no data for any dependency from this "
            f"machine (first answer: {first}); run `make audit` where it is reachable"
        )
    found = unaccepted(report)
    print("found:", found or "nothing")
    assert not found, "known vulnerabilities: " + "; ".join(found)


def test_a_reported_vulnerability_fails_unless_it_is_accepted(monkeypatch):
    """The decision the audit makes, on a report as pip-audit writes it."""
    report = {
        "dependencies": [
            {
                "name": "pillow",
                "version": "9.0.0",
                "vulns": [{"id": "PYSEC-1", "fix_versions": ["9.0.1"]}],
            },
            {"name": "requests", "version": "2.32.5", "vulns": []},
            {"name": "private", "skip_reason": "Dependency not found on PyPI"},
        ]
    }
    assert unaccepted(report) == ["pillow 9.0.0: PYSEC-1 (9.0.1)"]
    monkeypatch.setitem(
        ACCEPTED, "PYSEC-1", "only reached through a path we never call"
    )
    assert unaccepted(report) == []
