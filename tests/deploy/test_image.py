"""The image's contents, built the way the Dockerfile builds them, without an engine.

No Docker engine runs where these tests run, so the image itself is built by
`make image` elsewhere. What can be checked here is what goes into it: the
Dockerfile's rules (a pinned base, a non-root user, no build tools in the runtime
stage), and its build stage followed step by step in a scratch directory: the
product installed (not editable) from `pyproject.toml` and `services/` alone into a
fresh virtual environment, pip removed, and every service, the portal gateway and the
operators' tool importing there with their packaged data (contracts, calendars,
templates), from a working directory that holds only what the Dockerfile copies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.__main__ import RUNNABLE

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()

# Modules started by the image's commands: each service, the gateway, the tool.
ENTRYPOINTS = [f"services.{name}.service" for name in RUNNABLE] + [
    "services.portal.gateway",
    "services.ops",
]

# Files the running services read from their installed package.
PACKAGED = """
from importlib import resources
def packaged(package, suffix, folder="."):
    return [f for f in resources.files(package).joinpath(folder).iterdir()
            if f.name.endswith(suffix)]
assert packaged("services.common.contracts", ".json")
assert packaged("services.common", ".json", "data")
assert packaged("services.notifications", ".toml")
"""


def test_the_base_is_pinned_and_the_runtime_runs_as_a_numeric_non_root_user():
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M).group(1)
    stages = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    user = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)

    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base)
    assert stages == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert user == ["10001:10001"]


def test_the_runtime_stage_installs_no_build_tools():
    runtime = DOCKERFILE.split("\nFROM ")[-1]
    lines = re.findall(r"apt-get install (.*)$", runtime, re.M)
    installed = [[w for w in line.split() if w[0] not in "-\\"] for line in lines]
    assert installed == [["libpq5"]]
    assert "pip install" not in runtime
    assert "pip uninstall --yes pip setuptools wheel" in runtime


@pytest.mark.slow
def test_the_build_stage_installs_a_product_that_starts_with_its_data(tmp_path):
    """The build stage, step by step: COPY, venv, pip install ., pip removed."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(
        ROOT / "services",
        source / "services",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    app = tmp_path / "app"
    for copied in ("tools", "portal"):
        shutil.copytree(ROOT / copied, app / copied)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "--quiet", "--no-compile", str(source)])
    run([python, "-m", "pip", "uninstall", "--quiet", "--yes", "pip", "setuptools"])

    imports = "; ".join(f"import {module}" for module in ENTRYPOINTS)
    started = run([python, "-c", imports + "\n" + PACKAGED], cwd=app)

    assert started.returncode == 0, started.stderr[-2000:]
    assert not (venv / "bin" / "pip").exists()


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run one build step; environment as in the image (no PYTHONPATH to the repo)."""
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(cwd or ""),
        "HOME": "/tmp",
    }
    finished = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=900
    )
    if cwd is None:
        assert finished.returncode == 0, finished.stderr[-2000:]
    return finished
