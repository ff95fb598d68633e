"""The product as the tests run it: a scratch database and virtual host, and the
services as processes of their own, stopped and dropped when a benchmark ends.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from types import TracebackType

from services.common.settings import Settings
from tests.support.infrastructure import (
    ScratchDatabase,
    ScratchVhost,
    environment_for,
    settings_for,
)
from tests.support.processes import ServiceProcess

log = logging.getLogger(__name__)

# As the end-to-end tests search logs, except that digits inside a longer run of
# letters and digits are not a number: a UUID's last group ("-19427410656f") is
# not a phone number. The benchmarks log thousands of booking and call ids.
PERSONAL = {
    "an ID number": re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])"),
    "a phone number": re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])"),
}


class Product:
    """Services started on demand, all on one database and virtual host."""

    def __init__(self, **settings: str) -> None:
        self.database = ScratchDatabase()
        self.vhost = ScratchVhost()
        self.extra = settings
        self.logs = Path(tempfile.mkdtemp(prefix="xjcert-bench-logs-"))
        self.services: dict[str, ServiceProcess] = {}

    @property
    def settings(self) -> Settings:
        return settings_for(self.database, self.vhost, **self.extra)

    @property
    def environment(self) -> dict[str, str]:
        return environment_for(self.database, self.vhost, **self.extra)

    def start(self, *names: str) -> list[ServiceProcess]:
        for name in names:
            if name not in self.services:
                process = ServiceProcess(
                    name, self.environment, self.logs / f"{name}.log"
                )
                self.services[name] = process.start()
        return [self.services[name] for name in names]

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def peak_memory_mb(self) -> dict[str, float]:
        """Peak resident memory (VmHWM) of each running service process so far."""
        return {
            name: peak_memory_mb(process.process.pid)
            for name, process in self.services.items()
            if process.process is not None and process.process.poll() is None
        }

    def scalar(self, query: str) -> int:
        return self.database.scalar(query) or 0

    def close(self) -> None:
        for process in self.services.values():
            process.stop()
        try:
            for name, process in self.services.items():
                refuse_personal_data(process.log_text(), name)
        finally:
            self.vhost.drop()
            self.database.drop()

    def __enter__(self) -> Product:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def refuse_personal_data(text: str, service: str) -> None:
    for what, pattern in PERSONAL.items():
        found = pattern.search(text)
        if found:
            raise AssertionError(f"{service} logged {what}: ...{found.group()[-4:]}")


def peak_memory_mb(pid: int) -> float:
    """VmHWM, the most resident memory the process has had, in MB (10^6 bytes)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise LookupError(f"no VmHWM for process {pid}")
