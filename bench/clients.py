"""HTTP clients of the benchmarks: a crowd arriving at once, and a steady load.

Both time every request and keep every latency, so percentiles are exact.
They run on the same two cores as the product: their own CPU use is part of
what the product competes with, as it is for the baseline.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.figures import percentile

# The status of an answer that never came: the connection was refused or reset.
CONNECTION_FAILED = 0


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Load:
    """What a steady load measured: throughput, latency percentiles, failures."""

    tool: str
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    failures: int


def crowd(url: str, requests: list[tuple[str, str, dict, Any]]) -> list[Answer]:
    """Send every request at once, each on its own connection, as a crowd would."""
    return asyncio.run(_crowd(url, requests))


async def _crowd(url: str, requests: list[tuple[str, str, dict, Any]]) -> list[Answer]:
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(_one(url, *request, start=start)) for request in requests
    ]
    await asyncio.sleep(0)
    start.set()
    return list(await asyncio.gather(*tasks))


async def _one(
    url: str, method: str, path: str, headers: dict, body: Any, start: asyncio.Event
) -> Answer:
    parts = urlsplit(url)
    payload = b"" if body is None else json.dumps(body).encode()
    head = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head += [
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Connection: close",
    ]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    await start.wait()
    began = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(request)
        raw = await reader.read()
        writer.close()
    except OSError as error:  # refused or reset: an answer of its own kind
        failure = type(error).__name__.encode()
        return Answer(CONNECTION_FAILED, failure, time.perf_counter() - began)
    seconds = time.perf_counter() - began
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, body_bytes = rest.partition(b"\r\n\r\n")
    return Answer(int(status_line.split()[1]), body_bytes, seconds)


def steady(
    url: str, path: str, tokens: list[str], connections: int, seconds: float
) -> Load:
    """Keep `connections` keep-alive connections busy for `seconds` (threads)."""
    parts = urlsplit(url)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    failures = [0] * connections
    deadline = time.perf_counter() + seconds

    def connection(index: int) -> None:
        client = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        turn = index
        while time.perf_counter() < deadline:
            headers = {"Authorization": f"Bearer {tokens[turn % len(tokens)]}"}
            turn += connections
            began = time.perf_counter()
            try:
                client.request("GET", path, headers=headers)
                response = client.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                client.close()
                ok = False
            latencies[index].append(time.perf_counter() - began)
            failures[index] += not ok
        client.close()

    began = time.perf_counter()
    threads = [
        threading.Thread(target=connection, args=(index,))
        for index in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    every = [latency for per in latencies for latency in per]
    return Load(
        tool="python threads (http.client)",
        requests_per_second=len(every) / elapsed,
        p50_ms=percentile(every, 0.50) * 1000,
        p90_ms=percentile(every, 0.90) * 1000,
        p99_ms=percentile(every, 0.99) * 1000,
        failures=sum(failures),
    )
