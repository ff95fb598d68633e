"""wrk, the HTTP load tool, when it is installed (Debian: `apt-get install -y wrk`).

wrk keeps its connections busy from C, using far less CPU than a Python client
would on the same two cores. A Lua script sends each request with the next
applicant's token, so the load spreads over many applicants' rows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.clients import Load

INSTALL_HINT = (
    "wrk is not installed: `apt-get install -y wrk` (Debian) gives the load test "
    "a client that uses little CPU; meanwhile a Python load generator stands in"
)

SCRIPT = """
local tokens = {}
for line in io.lines("%(tokens)s") do tokens[#tokens + 1] = line end
local turn = 0
request = function()
  turn = turn + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[(turn %% #tokens) + 1]
  return wrk.format("GET", "%(path)s", headers)
end
"""

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def available() -> bool:
    return shutil.which("wrk") is not None


def load(url: str, path: str, tokens: list[str], connections: int, seconds: float):
    with tempfile.TemporaryDirectory(prefix="xjcert-bench-wrk-") as folder:
        token_file = Path(folder) / "tokens"
        token_file.write_text("\n".join(tokens) + "\n")
        script = Path(folder) / "tokens.lua"
        script.write_text(SCRIPT % {"tokens": token_file, "path": path})
        answer = subprocess.run(
            [
                "wrk",
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    return parse(answer.stdout)


def parse(output: str) -> Load:
    percentiles = {
        int(share): float(number) * UNITS[unit]
        for share, number, unit in re.findall(
            r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE
        )
    }
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failures = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        failures += sum(int(n) for n in socket_errors.groups())
    if rate is None or 99 not in percentiles:
        raise RuntimeError("wrk printed no rate or latency distribution")
    return Load(
        tool="wrk",
        requests_per_second=float(rate.group(1)),
        p50_ms=percentiles[50],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        failures=failures,
    )
