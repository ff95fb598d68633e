"""The machine a run measured: cores, memory, processor, the software underneath."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from typing import Any

import psycopg
import requests

from tests.support.infrastructure import PG_ADMIN, RABBIT_API, RABBIT_AUTH

LIBRARIES = ("nameko", "eventlet", "kombu", "amqp", "eventsourcing", "psycopg")


def describe() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(_memory_kib() / 2**20, 1),
        "processor": _processor(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": _postgres_version(),
        "rabbitmq": _rabbitmq_version(),
        "libraries": {name: version(name) for name in LIBRARIES},
    }


def _memory_kib() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0


def _processor() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _postgres_version() -> str:
    with psycopg.connect(PG_ADMIN) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def _rabbitmq_version() -> str:
    overview = requests.get(f"{RABBIT_API}/overview", auth=RABBIT_AUTH, timeout=10)
    return overview.json().get("rabbitmq_version", "unknown")
