"""Where a process spends its CPU during a measurement: py-spy, when asked for.

`python -m bench --profile` samples the process a benchmark loads (py-spy, 50
samples a second for the first 20 s of its first measured repetition, idle time
left out), and the report lists the functions the samples were in.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")
SHOWN = 8
# A busy eventlet process can keep py-spy from noticing SIGINT for minutes, so it
# samples for a fixed time, stopping by itself; a shorter measurement stops it.
RATE = 50
SECONDS = 20
STOP_SECONDS = 30


class Profiler:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.folder = Path(tempfile.mkdtemp(prefix="xjcert-bench-profiles-"))
        self.findings: dict[str, list[str]] = {}

    @contextmanager
    def watching(self, label: str, pid: int) -> Iterator[None]:
        if not self.enabled or label in self.findings:
            yield
            return
        output = self.folder / f"{label}.txt"
        with (self.folder / f"{label}.log").open("wb") as log:
            spy = subprocess.Popen(
                [_py_spy(), "record", "--pid", str(pid), "--rate", str(RATE)]
                + ["--duration", str(SECONDS), "--format", "raw", "--nonblocking"]
                + ["--output", str(output)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            yield
        finally:
            _stop(spy)
        collapsed = output.read_bytes() if output.exists() else b""
        self.findings[label] = summary(collapsed.decode(errors="replace"))


def _stop(spy: subprocess.Popen) -> None:
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its samples on SIGINT
    try:
        spy.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


def summary(collapsed: str) -> list[str]:
    """The busiest functions: by own time (leaf) and by time below them (our code)."""
    own: Counter[str] = Counter()
    below: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_name(frame) for frame in stack.split(";")]
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            if frame.endswith("services)") or "(services/" in frame:
                below[frame] += samples
    if not total:
        return ["no samples (py-spy saw the process idle or could not attach)"]
    lines = [f"{total} samples while busy"]
    lines += ["own time:"] + _shares(own, total)
    lines += ["time within (product code):"] + _shares(below, total)
    return lines


def _shares(counts: Counter[str], total: int) -> list[str]:
    return [f"  {n / total:6.1%}  {name}" for name, n in counts.most_common(SHOWN)]


def _name(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["path"]
    for root in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if root in path:
            path = path.split(root, 1)[1]
            break
    return f"{match['function']} ({path})"


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy==0.4.1")
    return found
